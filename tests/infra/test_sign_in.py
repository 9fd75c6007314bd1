"""The template's sign-in option: Entra ID in front of the app (App Service Authentication, authsettingsV2), off by
default, on with `signInEnabled`: unauthenticated people are sent to sign in (scripts on /api/jobs get 401), with the
app registration the operator names, in the tenant the operator names (docs/deploy.md, "Sign-in")."""

from __future__ import annotations

import json
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


# The HTTP functions by who calls them: a page for people must be behind sign-in, a route for scripts left to the
# function key. A new HTTP function fails the test below until it is placed in one of the two.
PEOPLE = frozenset({"status_page", "job_page", "report_page"})
SCRIPTS = frozenset({"get_job", "list_jobs", "get_report"})


def _http_routes() -> dict[str, str]:
    """Each HTTP function's path as a caller requests it: host.json's route prefix, and a job id in place."""
    root = INFRA.parent
    prefix = json.loads((root / "host.json").read_text(encoding="utf-8"))["extensions"]["http"]["routePrefix"]
    routes: dict[str, str] = {}
    for path in sorted(root.glob("*/function.json")):
        for binding in json.loads(path.read_text(encoding="utf-8"))["bindings"]:
            if binding["type"] == "httpTrigger":
                route = binding.get("route") or path.parent.name
                routes[path.parent.name] = f"/{prefix}/" + route.replace("{jobId}", "8f2b6a1e-5d4c-4e3b-9a7f-0c1d")
    return routes


def test_every_page_for_people_is_behind_sign_in_and_every_scripts_route_is_left_to_the_key() -> None:
    from tests.infra.test_azure_production import answer, sign_in

    routes = _http_routes()
    assert set(routes) == PEOPLE | SCRIPTS, "place each HTTP function among the people's pages or the scripts' routes"
    properties = sign_in()  # the default, signInScriptPaths=functionKey
    for name, path in routes.items():
        expected = "302 to sign in" if name in PEOPLE else "host key check (401 without a valid key)"
        assert answer(properties, path) == expected, (name, path)
    # With return401, everything is behind sign-in: a script gets 401, never a login page.
    properties = sign_in(signInScriptPaths="return401")
    assert {answer(properties, path) for path in routes.values()} == {"401"}
