"""Azure as it really is (issue 22), over infra/ evaluated with pycep (tests/infra/bicep.py): host storage that
works in every cloud, role assignments that redeploy, sign-in that answers scripts 401 and sends people to sign
in, VNet integration, least privilege. Evidence: docs/deploy.md and docs/iothub-evidence.md."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.infra.bicep import (
    INFRA,
    ROOT,
    Evaluator,
    Opaque,
    body,
    module_evaluator,
    parse,
    references,
    template_files,
)

PLANS = ("FlexConsumption", "Consumption", "Premium")
MODULES = INFRA / "modules"
HUB = {"iotHubNames": ["contoso-hub-1"]}


def settings_of(plan: str, **params: Any) -> list[dict[str, Any]]:
    ev = Evaluator({**HUB, "hostingPlan": plan, **params}).owner("functionApp")
    site_config = ev.resource("functionApp")["config"]["properties"]["siteConfig"]
    return [{str(s["name"]): s["value"] for s in config["appSettings"]} for config in ev.possible(site_config)]


def plain(value: Any) -> str:
    """An unknown value as the expression it stands for (`storage.properties.primaryEndpoints.blob`)."""
    return str(value).replace("<", "").replace(">", "")


# -- 1. Host storage by service URIs ------------------------------------------------------------------------------
@pytest.mark.parametrize("plan", PLANS)
@pytest.mark.parametrize("user_assigned", [False, True])
def test_host_storage_is_reached_by_the_accounts_own_service_uris(plan: str, user_assigned: bool) -> None:
    # AzureWebJobsStorage__accountName is valid only in the public cloud (Learn): the URIs from the account's
    # primaryEndpoints are right in every cloud.
    for settings in settings_of(plan, useUserAssignedIdentity=user_assigned):
        assert "AzureWebJobsStorage__accountName" not in settings
        for service in ("blob", "queue", "table"):
            value = settings[f"AzureWebJobsStorage__{service}ServiceUri"]
            assert isinstance(value, Opaque), f"{service}: {value!r} is not the account's own endpoint"
            assert plain(value) == f"storage.properties.primaryEndpoints.{service}", value


def test_no_host_storage_setting_names_a_cloud_suffix() -> None:
    text = (MODULES / "app-settings.bicep").read_text(encoding="utf-8")
    block = text[text.index("var hostStorageSettings"):text.index("// Telemetry with Entra ID")]
    assert "core.windows.net" not in block and "accountName" not in block
    # The URIs come from the storage module's outputs and reach the site through the site module: neither names a
    # public-cloud host (the EP1 content share takes its suffix from environment()).
    for module in ("storage.bicep", "site.bicep"):
        assert "core.windows.net" not in (MODULES / module).read_text(encoding="utf-8"), module


def test_the_app_reads_its_state_account_from_a_sovereign_blob_service_uri() -> None:
    from shared.settings import AppSettings

    settings = AppSettings.from_environ({
        "IOTHUB_HUBS": "devhub", "AZURE_CLOUD": "AzureChinaCloud",
        # primaryEndpoints.blob ends with a slash
        "AzureWebJobsStorage__blobServiceUri": "https://stjobmon.blob.core.chinacloudapi.cn/"})
    assert settings.poller.state_storage.account_url == "https://stjobmon.blob.core.chinacloudapi.cn"


# -- 2. Redeployable role assignment names --------------------------------------------------------------------------
MODULE_PARAMS: dict[str, dict[str, Any]] = {
    "app-roles.bicep": {"storageAccountName": "stjobmon", "stateContainerName": "jobmonitor-state",
                        "sharedCacheContainerName": "jobmonitor-cache", "reportsContainerName": "jobmonitor-reports",
                        "appInsightsName": "appi-jobmon", "grantQueueAccess": True},
    "blob-writer.bicep": {"accountName": "exports", "containers": ["hub-exports", "hub-imports", "jobmonitor"],
                          "monitorContainer": "jobmonitor"},
    "iothub-reader.bicep": {"hubName": "contoso-hub-1",
                            "roleDefinitionId": "/subscriptions/s/providers/Microsoft.Authorization/roleDefinitions/r"},
}


def rendered_names(path: Path, principal: str, **params: Any) -> list[str]:
    """Every role assignment name the module deploys, rendered as ARM would (guid of scope, principal, role)."""
    ev = Evaluator({**MODULE_PARAMS[path.name], "principalId": principal, **params}, path=path, render_ids=True)
    names: list[str] = []
    for resource in ev.tree["resources"].values():
        if resource["type"] != "Microsoft.Authorization/roleAssignments":
            continue
        config = resource["config"]
        if "loop_type" in config:
            detail = config["loop_type"]["detail"]
            for i, item in enumerate(ev.value(detail["array_name"])):
                scope = {detail["item_name"]: item, detail.get("index_name", "_"): i}
                if config.get("condition") is None or ev.possible(config["condition"], scope) == [True]:
                    names += ev.possible(config["config"]["name"], scope)
        elif config.get("condition") is None or ev.possible(config["condition"]) == [True]:
            names += ev.possible(body(resource)["name"])
    for name in names:
        assert isinstance(name, str), f"{path.name}: a role assignment name depends on {name}: not reproducible"
    return names


@pytest.mark.parametrize("module", sorted(MODULE_PARAMS))
def test_two_deployments_of_the_same_parameters_name_their_assignments_alike(module: str) -> None:
    # A redeploy finds its own assignments (no 409 RoleAssignmentExists, no duplicates).
    first = rendered_names(MODULES / module, "11111111-aaaa-4bbb-8ccc-000000000001")
    second = rendered_names(MODULES / module, "11111111-aaaa-4bbb-8ccc-000000000001")
    assert first and first == second
    assert len(set(first)) == len(first), "two assignments of one deployment share a name"
    # A recreated app has a new principal: new names, never RoleAssignmentUpdateNotPermitted.
    other = rendered_names(MODULES / module, "22222222-aaaa-4bbb-8ccc-000000000002")
    assert not set(first) & set(other)


def test_every_role_assignment_is_the_templates_own() -> None:
    # main.bicep assigns roles only through the modules above; nothing is left for an operator to add by hand.
    kinds = {name: r["type"] for name, r in parse()["resources"].items()}
    assert "Microsoft.Authorization/roleAssignments" not in kinds.values()
    assert set(MODULE_PARAMS) == {p.name for p in MODULES.glob("*.bicep")
                                  if "Microsoft.Authorization/roleAssignments" in p.read_text(encoding="utf-8")}


def test_docs_never_ask_for_a_hand_made_role_assignment_without_the_templates_name() -> None:
    # An assignment made by hand under another name makes the next deployment fail (409 RoleAssignmentExists).
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = path.read_text(encoding="utf-8")
        for command in re.findall(r"^\s*az role assignment create(?:[^\n]*\\\n)*[^\n]*", text, re.MULTILINE):
            assert "--name" in command, f"{path.name}: {command!r} makes an assignment the template does not name"


# -- 3. Sign-in for scripts and people ------------------------------------------------------------------------------
def sign_in(**params: Any) -> dict[str, Any]:
    ev = module_evaluator("signIn", {**HUB, "signInEnabled": True, "signInClientId": "app-id", **params})
    properties: dict[str, Any] = ev.value(body(ev.resource("signIn"))["properties"])
    return properties


def answer(properties: dict[str, Any], path: str) -> str:
    """What App Service Authentication answers a caller with no token on `path`: excludedPaths are matched
    whole, or by prefix when they end with /* (the only wildcard Easy Auth documents, azure-docs issue 86514)."""
    validation = properties["globalValidation"]
    for excluded in validation.get("excludedPaths") or []:
        if path == excluded or (excluded.endswith("/*") and path.startswith(excluded[:-1])):
            return "host key check (401 without a valid key)"
    return {"RedirectToLoginPage": "302 to sign in", "Return401": "401"}[validation["unauthenticatedClientAction"]]


def test_by_default_scripts_get_401_and_people_are_sent_to_sign_in() -> None:
    properties = sign_in()
    assert properties["globalValidation"]["requireAuthentication"] is True
    assert answer(properties, "/api/jobs") == "host key check (401 without a valid key)"
    assert answer(properties, "/api/jobs/import-42") == "host key check (401 without a valid key)"
    assert answer(properties, "/api/status") == "302 to sign in"
    assert answer(properties, "/") == "302 to sign in"


def test_return401_answers_every_path_401() -> None:
    properties = sign_in(signInScriptPaths="return401")
    for path in ("/api/jobs", "/api/jobs/import-42", "/api/status", "/api/jobs/import-42/report"):
        assert answer(properties, path) == "401"


def test_who_may_pass_comes_from_the_parameters() -> None:
    entra = sign_in(signInAllowedPrincipals=["oid-1", "oid-2"], signInAllowedApplications=["client-2"])[
        "identityProviders"]["azureActiveDirectory"]["validation"]["defaultAuthorizationPolicy"]
    assert entra["allowedPrincipals"] == {"identities": ["oid-1", "oid-2"]}
    # The browser sign-in comes through the app's own registration: always allowed.
    assert entra["allowedApplications"] == ["app-id", "client-2"]
    default = sign_in()["identityProviders"]["azureActiveDirectory"]["validation"]["defaultAuthorizationPolicy"]
    assert default == {"allowedApplications": ["app-id"]}


# -- 4. IoT Hub audience: set from a parameter; per cloud in tests/unit/test_settings.py ---------------------------
def test_the_audience_override_is_a_parameter() -> None:
    for settings in settings_of("FlexConsumption", iotHubAudience="https://iothubs.example.net"):
        assert settings["IOTHUB_AUDIENCE"] == "https://iothubs.example.net"
    assert all(s["IOTHUB_AUDIENCE"] == "" for s in settings_of("FlexConsumption"))


# -- 5. VNet integration ----------------------------------------------------------------------------------------------
SUBNET = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/vnet/subnets/apps"


@pytest.mark.parametrize(("plan", "subnet", "expected"), [
    ("FlexConsumption", "", None), ("FlexConsumption", SUBNET, SUBNET), ("Premium", SUBNET, SUBNET),
    ("Consumption", SUBNET, None),  # Linux Consumption has no VNet integration
])
def test_vnet_integration_is_optional(plan: str, subnet: str, expected: str | None) -> None:
    ev = Evaluator({**HUB, "hostingPlan": plan, "vnetSubnetId": subnet}).owner("functionApp")
    properties = ev.resource("functionApp")["config"]["properties"]
    assert ev.possible(properties["virtualNetworkSubnetId"]) == [expected]


# -- 6. Least privilege -----------------------------------------------------------------------------------------------
def test_the_default_hub_role_holds_only_jobs_read() -> None:
    hubs = {"iotHubNames": ["contoso-hub-1", "contoso-hub-2", "contoso-hub-3"],
            "iotHubResourceGroups": {"contoso-hub-1": "rg-hubs", "contoso-hub-3": "rg-hubs"}}
    main = Evaluator(hubs, render_ids=True)
    ev = main.owner("jobsReaderRole")
    assert ev.possible(ev.resource("jobsReaderRole")["config"]["condition"]) == [True]
    role = body(ev.resource("jobsReaderRole"))
    permissions = ev.value(role["properties"]["permissions"])
    assert permissions == [{"actions": [], "notActions": [], "dataActions": ["Microsoft.Devices/IotHubs/jobs/read"],
                            "notDataActions": []}]
    scopes = ev.value(role["properties"]["assignableScopes"])
    assert [s.rsplit("/", 1)[-1] for s in scopes] == ["rg-hubs", "rg-jobmonitor"]  # each hub's, once
    assert main.value("hubReaderRoleDefinitionId") == ev.resource_id("jobsReaderRole")[0]
    assert body(parse()["modules"]["hubReaders"])["params"]["roleDefinitionId"] == "hubReaderRoleDefinitionId"


def test_the_built_in_data_reader_is_an_option() -> None:
    ev = Evaluator({**HUB, "hubReaderRole": "iotHubDataReader"})
    identities = ev.owner("jobsReaderRole")
    assert identities.possible(identities.resource("jobsReaderRole")["config"]["condition"]) == [False]
    assert "iotHubDataReaderRoleId" in references(ev.tree["variables"]["hubReaderRoleDefinitionId"])
    assert ev.var("iotHubDataReaderRoleId") == "b447c946-2db7-41ec-983d-d8bf3b1c77e3"  # IoT Hub Data Reader


def test_job_containers_are_written_by_the_jobs_identity_which_has_no_role_on_the_host_account() -> None:
    modules = parse()["modules"]
    assert body(modules["blobWriters"])["params"]["principalId"] == "jobsPrincipalId"
    assert body(modules["appRoles"])["params"]["principalId"] == "principalId"
    assert body(modules["hubReaders"])["params"]["principalId"] == "principalId"
    main = Evaluator(HUB)
    assert plain(main.value("jobsPrincipalId")) == "jobsIdentity.properties.principalId"
    assert main.owner("jobsIdentity").path.name == "identities.bicep"
    for settings in settings_of("FlexConsumption", useUserAssignedIdentity=True):
        assert plain(settings["MONITOR_STORAGE_CLIENT_ID"]) == "jobsIdentity.properties.clientId"
        assert plain(settings["AzureWebJobsStorage__clientId"]) == "userIdentity.properties.clientId"


@pytest.mark.parametrize("user_assigned", [False, True])
def test_the_site_carries_the_jobs_identity(user_assigned: bool) -> None:
    main = Evaluator({**HUB, "useUserAssignedIdentity": user_assigned}, render_ids=True)
    ev = main.owner("functionApp")
    identity = ev.value(ev.resource("functionApp")["config"]["identity"])
    jobs = main.owner("jobsIdentity").resource_id("jobsIdentity")[0]
    assert jobs in identity["userAssignedIdentities"]
    assert identity["type"] == ("UserAssigned" if user_assigned else "SystemAssigned, UserAssigned")


@pytest.mark.parametrize(("whole_account", "containers", "account_wide", "per_container"), [
    (False, ["hub-exports"], False, ["hub-exports"]),
    (False, [], False, []),  # nothing listed, nothing asked: no role at all
    (True, ["hub-exports"], True, []),
])
def test_blob_writer_grants_the_account_only_when_asked(
    whole_account: bool, containers: list[str], account_wide: bool, per_container: list[str]
) -> None:
    path = MODULES / "blob-writer.bicep"
    ev = Evaluator({"accountName": "exports", "containers": containers, "wholeAccount": whole_account,
                    "principalId": "p"}, path=path)
    assert ev.possible(ev.resource("accountWide")["config"]["condition"]) == [account_wide]
    condition = ev.resource("perContainer")["config"]["condition"]
    assert [c for c in containers if ev.possible(condition, {"c": c}) == [True]] == per_container


def test_flex_may_scale_down_to_one_instance() -> None:
    decorators = parse()["parameters"]["flexMaximumInstanceCount"]["decorators"]
    assert next(d["argument"] for d in decorators if d["type"] == "min_value") == 1


# -- 7. The template split by concern (modules/identities, storage, site; monitoring, sign-in) -----------------------
def reads_a_key(tree: dict[str, Any], expr: Any, seen: frozenset[str] = frozenset()) -> bool:
    """Whether `expr` calls listKeys(), itself or through the template's variables it names."""
    text = json.dumps(expr, default=str)
    if "listKeys" in text or "list_keys" in text:
        return True
    variables = tree.get("variables", {})
    return any(reads_a_key(tree, variables[name]["value"], seen | {name})
               for name in references(expr) if name in variables and name not in seen)


def test_no_account_key_crosses_a_module_boundary() -> None:
    # A module's outputs and parameters are kept in the deployment history in clear: the EP1 key is read where it
    # is used (the site module, from the account by name), never handed from one deployment to another.
    for path in template_files():
        tree = parse(path)
        for name, output in tree.get("outputs", {}).items():
            assert not reads_a_key(tree, output["value"]), f"{path.name}: output {name} carries an account key"
        for name, module in tree.get("modules", {}).items():
            for param, expr in body(module)["params"].items():
                assert not reads_a_key(tree, expr), f"{path.name}: module {name} gets an account key in {param}"
    site = parse(MODULES / "site.bicep")
    assert reads_a_key(site, site["variables"]["premiumContentSettings"]["value"])
    assert site["resources"]["storage"]["existing"] is True
    ev = Evaluator({**HUB, "hostingPlan": "Premium", "appName": "jobmon-a"}).owner("functionApp")
    assert ev.value(body(ev.resource("storage"))["name"]) == Evaluator({**HUB, "appName": "jobmon-a"}).var(
        "storageAccountName")
