"""The template's sign-in option: Entra ID in front of the app (App Service Authentication, authsettingsV2), off by
default, on with `signInEnabled`: unauthenticated people are sent to sign in (scripts on /api/jobs get 401), with the
app registration the operator names, in the tenant the operator names (docs/deploy.md, "Sign-in")."""

from __future__ import annotations

from typing import Any

from tests.infra.bicep import INFRA, Evaluator, body, module_evaluator, parse, references

MODULE = INFRA / "modules" / "sign-in.bicep"


def _sign_in() -> dict[str, Any]:
    resource: dict[str, Any] = parse(MODULE)["resources"]["signIn"]
    assert resource["type"] == "Microsoft.Web/sites/config"
    return resource


def test_sign_in_is_off_unless_the_parameter_turns_it_on() -> None:
    params = parse()["parameters"]
    assert params["signInEnabled"]["type"] == "bool"
    assert params["signInEnabled"]["default"] is False
    resource = parse()["modules"]["signIn"]
    assert resource["detail"]["path"] == "modules/sign-in.bicep"
    assert resource["config"]["condition"] == "signInEnabled"
    for enabled in (False, True):
        ev = Evaluator({"iotHubNames": ["x"], "signInEnabled": enabled, "signInClientId": "app-id"})
        assert ev.possible(resource["config"]["condition"]) == [enabled]


def test_sign_in_configures_authsettings_v2_for_entra_with_the_operators_registration() -> None:
    config = body(_sign_in())
    assert (config["parent"], config["name"]) == ("site", "authsettingsV2")
    assert body(parse(MODULE)["resources"]["site"])["name"] == "appName"
    # The site's own name, from the site module's output (so ARM configures sign-in after the site exists).
    assert "site" in references(body(parse()["modules"]["signIn"])["params"]["appName"])
    site = Evaluator({"iotHubNames": ["x"], "appName": "jobmon-a"}).owner("functionApp")
    assert site.value(body(site.resource("functionApp"))["name"]) == "jobmon-a"
    assert module_evaluator("signIn", {"iotHubNames": ["x"], "appName": "jobmon-a"}).value("appName") == "jobmon-a"
    properties = config["properties"]
    assert properties["platform"]["enabled"] is True
    validation = properties["globalValidation"]
    assert validation["requireAuthentication"] is True
    # Which path gets which answer: tests/infra/test_azure_production.py (docs/deploy.md, "Sign-in").
    ev = module_evaluator("signIn", {"iotHubNames": ["x"], "signInEnabled": True, "signInClientId": "app-id"})
    assert ev.value(validation["unauthenticatedClientAction"]) == "RedirectToLoginPage"
    assert ev.value(validation["excludedPaths"]) == ["/api/jobs", "/api/jobs/*"]  # only the scripts' paths
    entra = properties["identityProviders"]["azureActiveDirectory"]
    assert entra["enabled"] is True
    assert entra["registration"]["clientId"] == "signInClientId"  # the parameter, not a literal
    assert "${signInTenantId}/v2.0" in entra["registration"]["openIdIssuer"]
    assert properties["httpSettings"]["requireHttps"] is True
