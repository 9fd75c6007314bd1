"""Redeployable wiring of infra/: role names, dependencies, containers, the poller's storage settings.

Evaluated with pycep (tests/infra/bicep.py). These are the faults Azure only reports at deployment time:
RoleAssignmentUpdateNotPermitted after the app is recreated, a Flex site naming a container that does not
exist yet, a poller that has to create a container with a container-scoped role.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.infra.bicep import INFRA, ROOT, Evaluator, body, module_evaluator, parse, references, template_files

SUFFIX = "<environment().suffixes.storage>"  # environment() is unknown to the evaluator
PARAMETERS = INFRA / "main.parameters.json"


def role_assignments() -> list[tuple[Path, str, dict[str, Any]]]:
    found = []
    for path in template_files():
        for name, resource in parse(path)["resources"].items():
            if resource["type"] == "Microsoft.Authorization/roleAssignments":
                found.append((path, name, body(resource)))
    return found


def test_there_are_role_assignments_to_check() -> None:
    assert len(role_assignments()) >= 8


@pytest.mark.parametrize(("path", "name", "config"), role_assignments(), ids=lambda x: getattr(x, "name", str(x)))
def test_role_assignment_names_include_the_principal_id(path: Path, name: str, config: dict[str, Any]) -> None:
    # A recreated app has a new principal: a name without it collides (RoleAssignmentUpdateNotPermitted).
    guid = config["name"]["function"]
    assert guid["type"] == "guid", f"{path.name}:{name} is not named with guid()"
    assert "principalId" in references(guid["parameters"]), f"{path.name}:{name} name lacks the principal id"
    assert config["properties"]["principalId"] == "principalId"


def test_no_role_assignment_in_main_uses_the_runtime_principal_in_its_name() -> None:
    # main.bicep's principal id is only known at run time, so its role assignments live in modules.
    assert not [n for p, n, _ in role_assignments() if p.name == "main.bicep"]


def test_site_depends_on_its_deployment_container() -> None:
    # The site is a module: ARM starts it only after every module whose outputs its parameters use.
    site_params = body(parse()["modules"]["site"])["params"]
    assert "storage" in references(site_params["deploymentContainerUrl"])
    main = Evaluator({"iotHubNames": ["x"]})
    storage = main.owner("deploymentContainer")
    assert storage is main.module("storage")
    container = storage.possible(storage.resource("deploymentContainer")["config"]["name"])
    site = main.owner("functionApp")
    properties = body(site.resource("functionApp"))["properties"]
    value = site.value(properties["functionAppConfig"]["operator"]["operands"]["true_value"]["deployment"][
        "storage"]["value"])
    assert container == ["app-package"] and str(value).endswith(container[0])


def created_and_scoped(param: str, value: str, resource: str, module_param: str, role: str) -> None:
    """The container `resource` is created with the name parameter `param` gives it, and the app-roles
    assignment `role` is scoped to the container of that name (an identity cannot create a container with a
    role on other containers only)."""
    main = Evaluator({"iotHubNames": ["x"], param: value})
    storage = main.owner(resource)
    assert storage.value(storage.resource(resource)["config"]["name"]) == value
    assert "storage" in references(body(parse()["modules"]["appRoles"])["params"][module_param])
    roles = main.module("appRoles")
    assert roles.value(module_param) == value
    scope = body(roles.resource(role))["scope"]
    assert roles.value(body(roles.resource(scope))["name"]).endswith(f"/default/{value}")  # <account>/default/<name>


def test_state_container_is_created_and_scoped() -> None:
    created_and_scoped("monitorStateContainer", "poller-state", "stateContainer", "stateContainerName", "stateWriter")


def test_shared_cache_container_is_created_and_scoped() -> None:
    # Every instance reads and writes it with the app's identity, which cannot create it with a container role.
    created_and_scoped("sharedCacheContainer", "app-cache", "sharedCacheContainerResource", "sharedCacheContainerName",
                       "sharedCacheWriter")


def test_reports_container_is_created_and_scoped() -> None:
    # The poller writes the app's report copies there with the app's identity, which a container role cannot create.
    created_and_scoped("monitorReportsContainer", "app-reports", "reportsContainer", "reportsContainerName",
                       "reportsWriter")


def test_monitor_container_is_created_with_its_own_role() -> None:
    resources = parse(INFRA / "modules" / "blob-writer.bicep")["resources"]
    assert resources["monitor"]["existing"] is False
    assert body(resources["monitorWriter"])["scope"] == "monitor"
    # Listed in `containers` as well, it must not get a second assignment of the same name.
    for monitor, listed in (("jobmonitor", ["jobmonitor", "exports"]), ("", ["exports"])):
        ev = Evaluator({"accountName": "acct", "containers": listed, "monitorContainer": monitor, "principalId": "p"},
                       path=INFRA / "modules" / "blob-writer.bicep")
        granted = [c for c in listed if ev.possible(resources["perContainer"]["config"]["condition"], {"c": c})
                   == [True]]
        assert granted == ["exports"]


def allowlist_and_containers(**params: Any) -> tuple[str, str]:
    ev = Evaluator({"iotHubNames": ["x"], **params})
    return (ev.var("effectiveAllowlist").replace(SUFFIX, "core.windows.net"),
            ev.var("monitorIdentityContainers").replace(SUFFIX, "core.windows.net"))


def test_no_output_accounts_means_the_poller_writes_nowhere() -> None:
    assert allowlist_and_containers() == ("", "")
    assert allowlist_and_containers(monitorContainer="jobmonitor") == ("", "")


def test_output_accounts_give_their_hosts_and_containers() -> None:
    allowlist, containers = allowlist_and_containers(outputStorageAccounts=[
        {"name": "exports", "resourceGroup": "rg-data", "containers": ["hub-exports", "hub-imports"]},
        {"name": "archive", "wholeAccount": True},
    ])
    assert allowlist == "exports.blob.core.windows.net,archive.blob.core.windows.net"
    assert containers.split(",") == [
        "https://exports.blob.core.windows.net/hub-exports",
        "https://exports.blob.core.windows.net/hub-imports",
        "https://archive.blob.core.windows.net/*",
    ]


def test_monitor_container_is_added_per_account() -> None:
    _, containers = allowlist_and_containers(monitorContainer="jobmonitor", outputStorageAccounts=[
        {"name": "exports", "containers": ["hub-exports"]}, {"name": "archive", "wholeAccount": True}])
    assert containers.split(",") == [
        "https://exports.blob.core.windows.net/hub-exports",
        "https://exports.blob.core.windows.net/jobmonitor",
        "https://archive.blob.core.windows.net/*",
        "https://archive.blob.core.windows.net/jobmonitor",
    ]


def test_allowlist_override_replaces_the_derived_hosts() -> None:
    allowlist, _ = allowlist_and_containers(monitorStorageHostAllowlist="*.blob.core.windows.net",
                                            outputStorageAccounts=[{"name": "exports"}])
    assert allowlist == "*.blob.core.windows.net"


def test_output_accounts_default_to_this_resource_group() -> None:
    accounts = [{"name": "a"}, {"name": "b", "resourceGroup": "rg"}]
    ev = Evaluator({"iotHubNames": ["x"], "outputStorageAccounts": accounts})
    accounts = ev.var("outputAccounts")
    assert [a["resourceGroup"] for a in accounts][1] == "rg"
    assert all(a["containers"] == [] for a in accounts)


def test_example_parameters_deploy_as_they_are() -> None:
    given = {k: v["value"] for k, v in json.loads(PARAMETERS.read_text(encoding="utf-8"))["parameters"].items()}
    # An output account needs to exist (with its resource group): the example names none.
    assert given.get("outputStorageAccounts", []) == []
    ev = Evaluator(given)
    assert module_evaluator("site", given).var("isFlex") is True
    assert ev.var("effectiveAllowlist") == ""
    assert parse()["parameters"]["hostingPlan"]["default"] == given["hostingPlan"]


def test_deployment_names_carry_the_app() -> None:
    # Two apps monitoring one hub deploy into its resource group under distinct names.
    for module in parse()["modules"]:
        assert "deploymentSuffix" in references(body(parse()["modules"][module])["name"])


def test_funcignore_keeps_everything_but_the_app_out() -> None:
    shipped = {"host.json", "requirements.txt", "shared", "get_job", "list_jobs", "get_report", "status_page",
               "job_page", "report_page", "poll_job_timer"}
    patterns = [line.strip().rstrip("/") for line in (ROOT / ".funcignore").read_text(encoding="utf-8").splitlines()
                if line.strip() and not line.startswith("#")]
    import fnmatch

    def ignored(name: str) -> bool:
        return any(fnmatch.fnmatch(name, p) for p in patterns)

    top_level = {p.name for p in ROOT.iterdir()} | {".build", "app.zip", "app-20260101.zip", ".coverage"}
    leaked = sorted(n for n in top_level - shipped if not ignored(n) and n != ".git")
    assert not leaked, f".funcignore would ship {leaked}"
    assert not [n for n in shipped if ignored(n)]


def test_the_evaluator_follows_main_into_its_modules() -> None:
    # The rules above read resources where they live; a module evaluated with other parameters than main.bicep
    # passes it, or an output read as unknown, would check a template nobody deploys.
    for user_assigned in (False, True):
        main = Evaluator({"iotHubNames": ["x"], "useUserAssignedIdentity": user_assigned})
        identities = main.module("identities")
        assert identities.value("useUserAssignedIdentity") is user_assigned
        assert main.owner("userIdentity") is identities and main.owner("functionApp") is main.module("site")
        client = main.value("clientId")  # identities.outputs.userClientId, evaluated in the module
        assert client == "" if not user_assigned else str(client) == "<<<userIdentity>.properties>.clientId>"
    assert module_evaluator("storage", {"iotHubNames": ["x"], "appName": "jobmon-a"}).value("storageAccountName") == \
        Evaluator({"iotHubNames": ["x"], "appName": "jobmon-a"}).var("storageAccountName")
    with pytest.raises(KeyError):
        Evaluator({"iotHubNames": ["x"]}).owner("noSuchResource")


def test_the_alert_rules_keep_their_names_in_their_module() -> None:
    # The rules moved out of main.bicep into modules/alerts.bicep: under the same names a redeploy updates them in
    # place; under new ones it would add a second set of rules (and e-mails) beside the first.
    alerts = Evaluator({"iotHubNames": ["x"], "appName": "jobmon-a", "alertEmail": "ops@example.com"}).owner("alerts")
    assert alerts.path.name == "alerts.bicep"
    assert alerts.value(body(alerts.resource("alertActionGroup"))["name"]) == "ag-jobmon-a"
    loop = alerts.resource("alerts")["config"]["loop_type"]["detail"]
    names = [alerts.value(body(alerts.resource("alerts"))["name"], {loop["item_name"]: rule})
             for rule in alerts.var("alertRules")]
    assert names == [f"alert-jobmon-a-{key}" for key in
                     ("report-written", "job-stalled", "hub-failing", "missing-tick", "get-job-errors")]
