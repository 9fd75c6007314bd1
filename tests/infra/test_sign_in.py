"""The template's sign-in option: Entra ID in front of the app (App Service Authentication, authsettingsV2), off by
default, on with `signInEnabled`: every unauthenticated browser is sent to sign in, with the app registration the
operator names, in the tenant the operator names (docs/jobs-api.md, "Signing in instead of a key")."""

from __future__ import annotations

from typing import Any

from tests.infra.bicep import Evaluator, body, parse


def _sign_in() -> dict[str, Any]:
    resource: dict[str, Any] = parse()["resources"]["signIn"]
    assert resource["type"] == "Microsoft.Web/sites/config"
    return resource


def test_sign_in_is_off_unless_the_parameter_turns_it_on() -> None:
    params = parse()["parameters"]
    assert params["signInEnabled"]["type"] == "bool"
    assert params["signInEnabled"]["default"] is False
    resource = _sign_in()
    assert resource["config"]["condition"] == "signInEnabled"
    for enabled in (False, True):
        ev = Evaluator({"iotHubNames": ["x"], "signInEnabled": enabled, "signInClientId": "app-id"})
        assert ev.possible(resource["config"]["condition"]) == [enabled]


def test_sign_in_configures_authsettings_v2_for_entra_with_the_operators_registration() -> None:
    config = body(_sign_in())
    assert (config["parent"], config["name"]) == ("functionApp", "authsettingsV2")
    properties = config["properties"]
    assert properties["platform"]["enabled"] is True
    validation = properties["globalValidation"]
    assert validation["requireAuthentication"] is True
    assert validation["unauthenticatedClientAction"] == "RedirectToLoginPage"
    assert not validation.get("excludedPaths")  # nothing of the app is left outside sign-in
    entra = properties["identityProviders"]["azureActiveDirectory"]
    assert entra["enabled"] is True
    assert entra["registration"]["clientId"] == "signInClientId"  # the parameter, not a literal
    assert "${signInTenantId}/v2.0" in entra["registration"]["openIdIssuer"]
    assert properties["httpSettings"]["requireHttps"] is True
