"""One source of truth for setting names: shared.settings.SETTING_NAMES.

Every name in it must be set by the template (unless deliberately not set in Azure, listed below with the
reason), listed in local.settings.sample.json and mentioned in docs/settings.md; and the template must set no app
setting the app does not read, beyond the platform's own.

The template's app settings are read twice: with a regex over every `name: '...'` line between the
`// app-settings:begin` and `// app-settings:end` markers (modules/app-settings.bicep's block: the app's settings;
the site module's: the plan's own), and by evaluating the site's `siteConfig.appSettings` with pycep (checkov's parser,
tests/infra/bicep.py) as main.bicep deploys the site module, for every hosting plan, so that a setting declared
but never wired into the site, or one added outside the markers, is caught too.
"""

from __future__ import annotations

import json
import re

import pytest

from shared.settings import SETTING_NAMES
from shared.settings.names import AZURE_WEBJOBS_STORAGE_ACCOUNT_NAME, AZURE_WEBJOBS_STORAGE_BLOB_SERVICE_URI
from tests.infra.bicep import INFRA, ROOT, Evaluator, Opaque, template_files

PARAMETERS = ROOT / "infra" / "main.parameters.json"
APP_SETTINGS = INFRA / "modules" / "app-settings.bicep"
SAMPLE = ROOT / "local.settings.sample.json"
SETTINGS_DOC = ROOT / "docs" / "settings.md"
PLANS = ("FlexConsumption", "Consumption", "Premium")

# Names the app reads that the template deliberately does not set in Azure.
NOT_SET_IN_AZURE = {
    "AzureWebJobsStorage": "replaced by AzureWebJobsStorage__*ServiceUri: host storage by managed identity, no key",
    "IOTHUB_ENDPOINTS": "endpoint override for the local devstack; in Azure a hub is <name>.azure-devices.net",
}

# Settings the platform reads (Functions host, Python worker, App Service, Application Insights), not the app's code.
PLATFORM_SETTINGS = {
    "FUNCTIONS_EXTENSION_VERSION",
    "FUNCTIONS_WORKER_RUNTIME",
    "APPLICATIONINSIGHTS_CONNECTION_STRING",
    "APPLICATIONINSIGHTS_AUTHENTICATION_STRING",
    "PYTHON_THREADPOOL_THREAD_COUNT",
    "WEBSITE_CONTENTAZUREFILECONNECTIONSTRING",
    "WEBSITE_CONTENTSHARE",
    "WEBSITE_RUN_FROM_PACKAGE",
    "WEBSITE_RUN_FROM_PACKAGE_BLOB_MI_RESOURCE_ID",
}
PLATFORM_PREFIXES = ("AzureWebJobsStorage__",)

_BLOCK = re.compile(r"^// app-settings:begin\b(?P<body>.*?)^// app-settings:end\b", re.MULTILINE | re.DOTALL)
_NAME = re.compile(r"^\s*name:\s*'(?P<name>[A-Za-z0-9_]+)'\s*$", re.MULTILINE)


def template_setting_names() -> set[str]:
    """Names set in the marked blocks of every template: the app-settings module must have one (the app's)."""
    names: set[str] = set()
    for path in template_files():
        blocks = list(_BLOCK.finditer(path.read_text(encoding="utf-8")))
        assert blocks or path != APP_SETTINGS, f"{path} lacks the // app-settings:begin ... :end markers"
        names |= {m["name"] for block in blocks for m in _NAME.finditer(block["body"])}
    return names


def site_settings(plan: str, **params: object) -> list[list[dict[str, object]]]:
    """Every app-settings list the site can get on `plan` (conditions on unknowns keep both branches)."""
    ev = Evaluator({"iotHubNames": ["contoso-hub-1"], "hostingPlan": plan, **params}).owner("functionApp")
    site_config = ev.resource("functionApp")["config"]["properties"]["siteConfig"]
    return [config["appSettings"] for config in ev.possible(site_config)]


def site_setting_names(plan: str) -> set[str]:
    names: set[str] = set()
    for user_assigned in (False, True):
        for auth in ("managedIdentity", "sharedAccessPolicy"):
            for settings in site_settings(plan, useUserAssignedIdentity=user_assigned, iotHubAuth=auth,
                                          consumptionPackageUrl="https://st.blob.core.windows.net/app-package/a.zip"):
                names |= {str(s["name"]) for s in settings}
    return names


def is_platform(name: str) -> bool:
    return name in PLATFORM_SETTINGS or name.startswith(PLATFORM_PREFIXES)


def mentioned(name: str, text: str) -> bool:
    """The name as a whole word: AzureWebJobsStorage inside AzureWebJobsStorage__accountName does not count."""
    return re.search(rf"(?<![A-Za-z0-9_]){re.escape(name)}(?![A-Za-z0-9_])", text) is not None


def test_parser_finds_the_template_settings() -> None:
    names = template_setting_names()
    assert len(names) >= 20
    assert "IOTHUB_HUBS" in names
    assert AZURE_WEBJOBS_STORAGE_BLOB_SERVICE_URI in names


def test_exceptions_name_real_settings() -> None:
    assert set(NOT_SET_IN_AZURE) <= set(SETTING_NAMES)


@pytest.mark.parametrize("name", [n for n in SETTING_NAMES if n not in NOT_SET_IN_AZURE])
def test_template_sets_every_setting_the_app_reads(name: str) -> None:
    assert name in template_setting_names(), f"the template does not set {name}"


@pytest.mark.parametrize("plan", PLANS)
def test_the_site_gets_every_setting_the_app_reads(plan: str) -> None:
    names = site_setting_names(plan)
    # IOTHUB_CONNECTION_STRINGS only exists in sharedAccessPolicy mode, which site_setting_names includes.
    missing = sorted(n for n in SETTING_NAMES if n not in NOT_SET_IN_AZURE and n not in names)
    assert not missing, f"on {plan} the site's appSettings lack {missing}"


@pytest.mark.parametrize("plan", PLANS)
def test_the_site_gets_only_settings_from_the_marked_block(plan: str) -> None:
    outside = sorted(site_setting_names(plan) - template_setting_names())
    assert not outside, f"app settings set outside // app-settings:begin/end: {outside}"


@pytest.mark.parametrize("name", sorted(NOT_SET_IN_AZURE))
def test_template_leaves_out_the_deliberate_exceptions(name: str) -> None:
    assert name not in template_setting_names(), f"{name} is set by the template: {NOT_SET_IN_AZURE[name]}"


def test_template_sets_no_setting_the_app_does_not_read() -> None:
    read = set(SETTING_NAMES) | {AZURE_WEBJOBS_STORAGE_ACCOUNT_NAME}
    unread = sorted(n for n in template_setting_names() if n not in read and not is_platform(n))
    assert not unread, f"the template sets settings nothing reads: {unread}"


@pytest.mark.parametrize("name", SETTING_NAMES)
def test_sample_settings_list_every_setting(name: str) -> None:
    assert SAMPLE.exists(), "local.settings.sample.json is missing"
    values = json.loads(SAMPLE.read_text(encoding="utf-8")).get("Values", {})
    assert name in values, f"local.settings.sample.json does not list {name}"


@pytest.mark.parametrize("name", SETTING_NAMES)
def test_settings_doc_mentions_every_setting(name: str) -> None:
    assert SETTINGS_DOC.exists(), "docs/settings.md is missing"
    assert mentioned(name, SETTINGS_DOC.read_text(encoding="utf-8")), f"docs/settings.md does not mention {name}"


def test_parameters_file_only_sets_declared_parameters() -> None:
    declared = set(Evaluator({"iotHubNames": ["x"]}).tree["parameters"])
    given = set(json.loads(PARAMETERS.read_text(encoding="utf-8"))["parameters"])
    assert given <= declared, f"main.parameters.json sets undeclared parameters: {sorted(given - declared)}"
    assert "iotHubNames" in given, "main.parameters.json must give iotHubNames (no default)"


def test_every_setting_value_is_a_string_or_unknown() -> None:
    # App settings are strings: a number or a bool here is a deployment error.
    for plan in PLANS:
        for settings in site_settings(plan):
            for setting in settings:
                value = setting["value"]
                assert isinstance(value, str | Opaque), f"{setting['name']} = {value!r} on {plan}"


