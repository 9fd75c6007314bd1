"""What a Flex Consumption site must never get, over every way infra/main.bicep can go.

Flex answers ARM error 51021 for site properties it does not support, in newer regions even when their value
is null; it takes its runtime from functionAppConfig.runtime and rejects the classic runtime and content
settings. Evaluated with pycep (tests/infra/bicep.py) for every identity and hub-auth combination, on the site as
main.bicep deploys it (modules/site.bicep, with the settings main.bicep passes).
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from tests.infra.bicep import Evaluator, Opaque

# siteConfig properties Flex rejects (Microsoft's Flex deprecations and error 51021 reports). Their presence
# counts, whatever the value: null is refused too.
FLEX_REJECTED_SITE_CONFIG = {
    "ftpsState", "linuxFxVersion", "windowsFxVersion", "use32BitWorkerProcess", "javaVersion",
    "netFrameworkVersion", "powerShellVersion", "nodeVersion", "pythonVersion", "phpVersion", "alwaysOn",
    "functionAppScaleLimit", "preWarmedInstanceCount", "minimumElasticInstanceCount", "http20Enabled",
    "scmMinTlsVersion", "vnetRouteAllEnabled",
}
# What Flex does take in siteConfig here: app settings and the TLS minimum.
FLEX_SITE_CONFIG = {"appSettings", "minTlsVersion"}
# App settings Flex rejects or replaces (runtime in functionAppConfig, package in functionAppConfig.deployment).
FLEX_REJECTED_SETTINGS = {
    "FUNCTIONS_EXTENSION_VERSION", "FUNCTIONS_WORKER_RUNTIME", "FUNCTIONS_WORKER_RUNTIME_VERSION",
    "FUNCTIONS_WORKER_PROCESS_COUNT", "WEBSITE_CONTENTAZUREFILECONNECTIONSTRING", "WEBSITE_CONTENTSHARE",
    "WEBSITE_RUN_FROM_PACKAGE", "WEBSITE_RUN_FROM_PACKAGE_BLOB_MI_RESOURCE_ID", "SCM_DO_BUILD_DURING_DEPLOYMENT",
    "ENABLE_ORYX_BUILD", "WEBSITE_NODE_DEFAULT_VERSION", "WEBSITE_MAX_DYNAMIC_APPLICATION_SCALE_OUT",
}
VARIANTS = [
    {"useUserAssignedIdentity": uai, "iotHubAuth": auth, "consumptionPackageUrl": url}
    for uai, auth, url in itertools.product(
        (False, True), ("managedIdentity", "sharedAccessPolicy"), ("", "https://st.blob.core.windows.net/p/a.zip"))
]


def site_properties(plan: str, variant: dict[str, Any]) -> list[dict[str, Any]]:
    ev = Evaluator({"iotHubNames": ["contoso-hub-1"], "hostingPlan": plan, **variant}).owner("functionApp")
    properties = ev.resource("functionApp")["config"]["properties"]
    return ev.possible(properties)


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: "-".join(str(x) for x in v.values()))
def test_flex_site_config_holds_only_what_flex_accepts(variant: dict[str, Any]) -> None:
    for properties in site_properties("FlexConsumption", variant):
        keys = set(properties["siteConfig"])
        rejected = sorted(keys & FLEX_REJECTED_SITE_CONFIG)
        assert not rejected, f"a Flex site can get siteConfig {rejected} (ARM error 51021, even when null)"
        assert keys <= FLEX_SITE_CONFIG, f"unexpected siteConfig on Flex: {sorted(keys - FLEX_SITE_CONFIG)}"


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: "-".join(str(x) for x in v.values()))
def test_flex_app_settings_hold_none_that_flex_rejects(variant: dict[str, Any]) -> None:
    for properties in site_properties("FlexConsumption", variant):
        names = {s["name"] for s in properties["siteConfig"]["appSettings"]}
        assert not names & FLEX_REJECTED_SETTINGS, sorted(names & FLEX_REJECTED_SETTINGS)


def test_flex_runtime_and_scale_live_in_function_app_config() -> None:
    for properties in site_properties("FlexConsumption", VARIANTS[0]):
        config = properties["functionAppConfig"]
        assert config["runtime"] == {"name": "python", "version": "3.11"}
        scale = config["scaleAndConcurrency"]
        assert scale["maximumInstanceCount"] == 40
        assert scale["triggers"]["http"]["perInstanceConcurrency"] == 16
        assert config["deployment"]["storage"]["type"] == "blobContainer"


def test_flex_thread_pool_matches_the_http_concurrency() -> None:
    for concurrency in (1, 16, 64):
        variant = {**VARIANTS[0], "flexHttpPerInstanceConcurrency": concurrency}
        for properties in site_properties("FlexConsumption", variant):
            settings = {s["name"]: s["value"] for s in properties["siteConfig"]["appSettings"]}
            threads = int(settings["PYTHON_THREADPOOL_THREAD_COUNT"])
            assert threads >= concurrency, "fewer worker threads than concurrent requests: requests would queue"
            assert properties["functionAppConfig"]["scaleAndConcurrency"]["triggers"]["http"][
                "perInstanceConcurrency"] == concurrency


def test_http_concurrency_cannot_exceed_the_hub_connection_pool() -> None:
    from shared.iothub.client import POOL_SIZE

    decorators = Evaluator({"iotHubNames": ["x"]}).tree["parameters"]["flexHttpPerInstanceConcurrency"]["decorators"]
    maximum = next(d["argument"] for d in decorators if d["type"] == "max_value")
    assert maximum <= POOL_SIZE


@pytest.mark.parametrize("plan", ["Consumption", "Premium"])
def test_classic_plans_keep_their_site_config(plan: str) -> None:
    for properties in site_properties(plan, VARIANTS[0]):
        assert properties["functionAppConfig"] is None
        config = properties["siteConfig"]
        assert config["linuxFxVersion"] == "Python|3.11"
        assert config["ftpsState"] == "Disabled"
        assert config["functionAppScaleLimit"] == 10
        names = {s["name"] for s in config["appSettings"]}
        assert {"FUNCTIONS_EXTENSION_VERSION", "FUNCTIONS_WORKER_RUNTIME"} <= names


@pytest.mark.parametrize("plan", ["FlexConsumption", "Consumption", "Premium"])
def test_every_plan_requires_tls_1_2(plan: str) -> None:
    # Backs the checkov skip of CKV_AZURE_15 in main.bicep.
    for properties in site_properties(plan, VARIANTS[0]):
        assert properties["siteConfig"]["minTlsVersion"] == "1.2"
        assert properties["httpsOnly"] is True


def test_the_evaluator_sees_unknowns_as_both_ways() -> None:
    # The Flex checks rely on conditions over unknown values keeping both branches.
    ev = Evaluator({"iotHubNames": ["x"]})
    expr = {"operator": {"type": "conditional", "operands": {
        "condition": {"operator": {"type": "equals", "operands": {"operand_1": "site", "operand_2": "a"}}},
        "true_value": {"ftpsState": "Disabled"}, "false_value": {}}}}
    assert ev.possible(expr) == [{"ftpsState": "Disabled"}, {}]
    assert isinstance(ev.value("site"), Opaque)
