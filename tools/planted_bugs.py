"""Plant known bugs, one at a time, and check that the tests named for each one go red.

    .venv/bin/python tools/planted_bugs.py            # every plant
    .venv/bin/python tools/planted_bugs.py NAME ...   # some (see --list)
    .venv/bin/python tools/planted_bugs.py --list

Each plant is a small edit of one file (text replaced exactly once): a bug a planted-by-hand review once left
every test green (issue 16), or one the tests of a guarantee must catch. For each, the tool copies the files git
tracks into a temporary directory (the working tree is never touched; `.venv` and `node_modules` are linked,
not copied), applies the plant, runs the named test files with pytest, and checks that every test named as the
catcher failed. It prints a Markdown table and exits 1 if any plant went uncaught. docs/testing.md holds the
table; tests/static/test_planted_bugs.py checks that every plant still applies to the code as it is.

Not part of `make test`: a full run takes several minutes (the poller's and get_job's suites, per plant).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GIT = shutil.which("git") or "git"
LINKED = (".venv", "node_modules")
# shared/poller/report_writer.py: an unreadable importErrors.log is tried again next tick, IMPORT_LOG_ATTEMPTS times.
RETRY_LOG_READ = (
    "            if record.write_failures + 1 < IMPORT_LOG_ATTEMPTS and not at_once:\n"
    "                raise  # try again next tick"
)


@dataclass(frozen=True, kw_only=True)
class Plant:
    name: str
    bug: str  # what the plant breaks, in words
    file: str
    old: str
    new: str
    caught_by: tuple[str, ...]  # pytest node ids (file::test, parameters left out) that must fail
    also: tuple[tuple[str, str], ...] = ()  # more (old, new) edits of the same file

    @property
    def test_files(self) -> list[str]:
        return sorted({node.split("::", 1)[0] for node in self.caught_by})


PLANTS: tuple[Plant, ...] = (
    # 1. Redaction
    Plant(
        name="redaction-once-encoded-sig",
        bug="the first pass drops the once-URL-encoded form (`...%26sig%3D<sig>`): `=` matched only as itself, "
            "`%253D` or `\\u003d`",
        file="shared/redaction.py",
        old='_EQUALS = _encoded("=")',
        new='_EQUALS = r"(?:=|%25(?:25)*3[dD]|\\\\+u003[dD])"',
        caught_by=("tests/unit/test_redaction.py::test_an_encoded_sas_uri_keeps_everything_but_its_signature",),
    ),
    Plant(
        name="redaction-once-encoded-sig-no-fail-closed",
        bug="the same, with the fail-closed pass off too: the once-encoded signature leaks",
        file="shared/redaction.py",
        old='_EQUALS = _encoded("=")',
        new='_EQUALS = r"(?:=|%25(?:25)*3[dD]|\\\\+u003[dD])"',
        also=(("    if not _still_hides_secret(redacted):\n        return redacted",
               "    if True:\n        return redacted"),),
        caught_by=("tests/unit/test_redaction.py::test_every_form_in_the_corpus_is_scrubbed",
                   "tests/get_job/test_get_job_basics.py::test_secrets_planted_in_any_field_never_come_back"),
    ),
    Plant(
        name="redaction-dict-key-fields-off",
        bug="key-based redaction of dict fields turned off (`{\"primaryKey\": \"...\"}` passes as text)",
        file="shared/redaction.py",
        old="    if isinstance(value, str) and is_secret_field(key):",
        new="    if False and isinstance(value, str) and is_secret_field(key):",
        caught_by=(
            "tests/unit/test_redaction.py::test_dict_fields_named_like_secrets_are_redacted_whatever_their_value",
            "tests/get_job/test_get_job_basics.py::test_secrets_planted_in_any_field_never_come_back",
            "tests/poller/test_attacks.py::test_a_signature_planted_in_every_field_never_reaches_a_blob_or_a_log",
        ),
    ),
    # 2. Exactly once
    Plant(
        name="older-list-overwrites-newer",
        bug="an older job list overwrites a newer observation (after a claim conflict, the tick plans again "
            "with the list it had)",
        file="shared/poller/core.py",
        old="            and (_ahead(status, progress, (record.status, record.progress))",
        new="            and (True",
        caught_by=(
            "tests/unit/test_core.py::test_an_observation_behind_the_recorded_one_is_never_taken",
            "tests/poller/test_poller_overlapping_ticks.py::"
            "test_a_tick_whose_claim_lost_to_a_newer_list_never_records_its_older_one",
        ),
    ),
    Plant(
        name="confirm-drops-newer-latest",
        bug="confirm clears a pending latest.json even when another tick claimed a newer revision",
        file="shared/poller/confirm.py",
        old="if record.latest is not None and record.latest.rev <= outcome.latest_rev:",
        new="if record.latest is not None:",
        caught_by=(
            "tests/unit/test_core.py::test_confirm_keeps_a_newer_latest_revision_claimed_by_another_tick",
            "tests/poller/test_poller_overlapping_ticks.py::"
            "test_a_confirm_never_drops_a_newer_latest_revision_another_tick_claimed",
        ),
    ),
    Plant(
        name="absent-job-with-work-forgotten",
        bug="an absent job is forgotten although it still has pending work",
        file="shared/poller/confirm.py",
        old="if not record.has_work and last_seen is not None and now - last_seen > FORGET_AFTER:",
        new="if last_seen is not None and now - last_seen > FORGET_AFTER:",
        caught_by=("tests/unit/test_core.py::test_an_absent_job_is_forgotten_only_when_idle_and_past_the_hubs_history",),
    ),
    Plant(
        name="snapshot-of-another-claim-kept",
        bug="a snapshot of this name polled at another time (the same change, claimed under a restored state) "
            "counts as this claim's: latest.json is rewritten from the new claim and names it with another "
            "polledAtUtc (found by the soak)",
        file="shared/poller/writer.py",
        old="        if any(b.name != pending.blob or _foreign(b.metadata, hub) or _other_claim(b.metadata, pending)\n",
        new="        if any(b.name != pending.blob or _foreign(b.metadata, hub)\n",
        caught_by=("tests/poller/test_poller_recovery.py::"
                   "test_a_restored_state_that_observes_a_written_change_again_keeps_latest_json_its_snapshot",),
    ),
    # 3. cancelled
    Plant(
        name="cancelled-not-terminal",
        bug="`cancelled` no longer terminal (stall flags, first-run backfill, reports, get_job's terminal cache)",
        file="shared/jobs.py",
        old="TERMINAL_STATUSES = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED})",
        new="TERMINAL_STATUSES = frozenset({JobStatus.COMPLETED, JobStatus.FAILED})",
        caught_by=(
            "tests/unit/test_core.py::test_each_change_takes_the_next_seq_and_failed_or_cancelled_jobs_get_a_report",
            "tests/unit/test_core.py::test_a_finished_job_is_never_flagged_stalled",
            "tests/unit/test_core.py::test_the_first_run_backfills_a_job_that_finished_long_ago_whatever_its_end",
            "tests/get_job/test_get_job_coalescing.py::test_a_terminal_job_reaches_the_hub_once_per_process",
            "tests/poller/test_poller_jobs.py::test_cancelled_job_gets_a_report_marked_cancelled",
        ),
    ),
    # 4. The importErrors.log retry
    Plant(
        name="import-log-no-retry",
        bug="an unreadable importErrors.log is given up on the first refused read, not after IMPORT_LOG_ATTEMPTS",
        file="shared/poller/import_evidence.py",
        old=RETRY_LOG_READ,
        new=RETRY_LOG_READ.replace("record.write_failures + 1 < IMPORT_LOG_ATTEMPTS", "False"),
        caught_by=(
            "tests/poller/test_poller_faults.py::test_an_unreadable_errors_log_is_read_again_on_the_next_tick",
            "tests/poller/test_poller_faults.py::"
            "test_an_errors_log_unreadable_on_every_attempt_gives_a_report_that_says_why",
        ),
    ),
    Plant(
        name="import-log-retried-for-ever",
        bug="an unreadable importErrors.log is retried for ever: the report never comes",
        file="shared/poller/import_evidence.py",
        old=RETRY_LOG_READ,
        new=RETRY_LOG_READ.replace("record.write_failures + 1 < IMPORT_LOG_ATTEMPTS", "True"),
        caught_by=("tests/poller/test_poller_faults.py::"
                   "test_an_errors_log_unreadable_on_every_attempt_gives_a_report_that_says_why",),
    ),
    # 5. Report rendering
    Plant(
        name="markdown-title-always-failed",
        bug="the Markdown title always says 'failed'",
        file="shared/reports/markdown.py",
        old='        f"# IoT Hub {md_text(stored_title(report))}",',
        new="        f\"# IoT Hub {md_text(report.get('type') or 'job')} failed\",",
        caught_by=(
            "tests/unit/test_reports.py::test_completed_import_with_rejected_lines_gets_an_import_report",
            "tests/unit/test_reports.py::"
            "test_the_markdown_opens_with_the_reports_title_and_lists_every_timeline_entry",
        ),
    ),
    Plant(
        name="markdown-timeline-empty",
        bug="the Markdown timeline table is left empty",
        file="shared/reports/markdown.py",
        old="    for entry in entries:\n        lines.append(",
        new="    for entry in []:\n        lines.append(",
        caught_by=("tests/unit/test_reports.py::"
                   "test_the_markdown_opens_with_the_reports_title_and_lists_every_timeline_entry",),
    ),
    # 6. Where requests go
    Plant(
        name="uri-user-info-accepted",
        bug="a URI with user information (`https://user@host/c`) is accepted",
        file="shared/http/targets.py",
        old='r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<host>',
        new='r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?:[A-Za-z0-9._~-]+@)?(?P<host>',
        caught_by=("tests/unit/test_targets.py::test_the_target_parser",),
    ),
    Plant(
        name="hub-get-follows-redirects",
        bug="the hub GET follows redirects",
        file="shared/iothub/client.py",
        old="timeout=timeout, allow_redirects=False,",
        new="timeout=timeout, allow_redirects=True,",
        caught_by=("tests/get_job/test_get_job_faults.py::test_the_hub_get_never_follows_a_redirect",),
    ),
    # 7. Once caught by a slow suite only
    Plant(
        name="upstream-errors-cached",
        bug="every upstream error is kept for the TTL (not only 404)",
        file="shared/proxy/handler.py",
        old="cache_error=lambda error: isinstance(error, JobNotFoundError),",
        new="cache_error=lambda error: True,",
        caught_by=(
            "tests/get_job/test_get_job_faults.py::test_an_upstream_error_is_not_kept_the_next_call_reaches_the_hub",
            "tests/get_job/test_get_job_function.py::test_upstream_error_answers_match_the_spec",
        ),
    ),
    Plant(
        name="snapshot-create-overwrites",
        bug="a snapshot is created without If-None-Match (overwrite)",
        file="shared/poller/writer.py",
        old="pending.blob, json_bytes(pending.document), overwrite=False,",
        new="pending.blob, json_bytes(pending.document), overwrite=True,",
        caught_by=("tests/poller/test_poller_overlapping_ticks.py::test_two_ticks_writing_one_claim_create_each_blob_once",),
    ),
    Plant(
        name="report-create-overwrites",
        bug="a report is created without If-None-Match (overwrite)",
        file="shared/poller/report_writer.py",
        old="container.upload_blob(json_name, json_bytes(document), overwrite=False",
        new="container.upload_blob(json_name, json_bytes(document), overwrite=True",
        caught_by=("tests/poller/test_poller_overlapping_ticks.py::test_two_ticks_writing_one_claim_create_each_blob_once",),
    ),
    Plant(
        name="report-markdown-create-overwrites",
        bug="a report's Markdown is created without If-None-Match (overwrite)",
        file="shared/poller/report_writer.py",
        old="container.upload_blob(md_name, _markdown(document, report).encode(), overwrite=False",
        new="container.upload_blob(md_name, _markdown(document, report).encode(), overwrite=True",
        caught_by=("tests/poller/test_poller_overlapping_ticks.py::test_two_ticks_writing_one_claim_create_each_blob_once",),
    ),
    Plant(
        name="latest-create-overwrites",
        bug="latest.json's first write is not create-if-none",
        file="shared/poller/writer.py",
        old="result = blob.upload_blob(data, overwrite=False, metadata=metadata",
        new="result = blob.upload_blob(data, overwrite=True, metadata=metadata",
        caught_by=("tests/poller/test_poller_overlapping_ticks.py::test_two_ticks_writing_one_claim_create_each_blob_once",),
    ),
    Plant(
        name="latest-without-if-match",
        bug="latest.json is rewritten without If-Match (its ETag)",
        file="shared/poller/writer.py",
        old="                                              etag=etag, match_condition=MatchConditions.IfNotModified,\n",
        new="",
        caught_by=("tests/poller/test_poller_overlapping_ticks.py::test_latest_json_never_goes_back_to_an_older_revision",),
    ),
    Plant(
        name="latest-revision-not-compared",
        bug="latest.json's revision is not compared on a conflict (an older revision overwrites a newer one)",
        file="shared/poller/writer.py",
        old="                if theirs >= latest.rev:",
        new="                if False:",
        caught_by=(
            "tests/poller/test_poller_overlapping_ticks.py::test_two_ticks_writing_one_claim_create_each_blob_once",
            "tests/poller/test_poller_overlapping_ticks.py::test_latest_json_never_goes_back_to_an_older_revision",
        ),
    ),
    # The weak tests, each made to fail for the reason its name gives
    Plant(
        name="stall-flagged-early",
        bug="a job is flagged stalled at half the stall time",
        file="shared/poller/core.py",
        old="(listed_at - changed_at).total_seconds() < settings.stall_after_seconds",
        new="(listed_at - changed_at).total_seconds() < settings.stall_after_seconds / 2",
        caught_by=("tests/unit/test_core.py::test_a_job_that_stops_moving_is_flagged_stalled_once",
                   "tests/poller/test_poller_state.py::test_stalled_job_is_flagged_once"),
    ),
    Plant(
        name="stall-flagged-again",
        bug="a stalled job is flagged again on every tick (latest.json rewritten)",
        file="shared/poller/core.py",
        old="status is None or status.is_terminal or record.stalled or settings",
        new="status is None or status.is_terminal or settings",
        caught_by=("tests/unit/test_core.py::test_a_job_that_stops_moving_is_flagged_stalled_once",
                   "tests/poller/test_poller_state.py::test_stalled_job_is_flagged_once"),
    ),
    Plant(
        name="timer-raises-on-partial-failure",
        bug="the timer function fails when one hub of two fails",
        file="poll_job_timer/__init__.py",
        old="    if result.all_failed:",
        new="    if not all(outcome.ok for outcome in result.hubs.values()):",
        caught_by=("tests/poller/test_poller_state.py::test_timer_function_raises_when_every_hub_fails",),
    ),
    Plant(
        name="tick-deadline-past-budget",
        bug="the tick's deadline is twice its budget",
        file="shared/poller/tick.py",
        old="deadline = Deadline(max(1.0, self._budget_seconds - SAFETY_SECONDS))",
        new="deadline = Deadline(max(1.0, self._budget_seconds * 2))",
        caught_by=("tests/poller/test_poller_faults.py::test_a_hanging_hub_does_not_hold_the_tick_past_its_budget",
                   "tests/poller/test_poller_faults.py::test_a_hung_storage_call_ends_within_the_tick_budget"),
    ),
    Plant(
        name="token-wait-unbounded",
        bug="the caller that asks for a token waits for the credential's own timeouts, not its budget",
        file="shared/iothub/auth.py",
        old="token = flight.future.result(timeout=None if timeout is None else max(timeout, 0.0))",
        new="token = flight.future.result()",
        caught_by=("tests/get_job/test_get_job_budget.py::"
                   "test_a_silent_token_endpoint_cannot_hold_requests_past_the_budget",),
    ),
    Plant(
        name="failed-token-credential-kept",
        bug="a token request that failed after its caller gave up leaves its (now unusable) credential in place",
        file="shared/iothub/auth.py",
        old="                if flight is not None and flight.future.exception() is not None:\n"
            "                    # Failed after its callers gave up waiting: azure-identity holds that credential "
            "unusable.\n                    discard_credential(flight.credential)\n",
        new="",
        caught_by=("tests/get_job/test_get_job_credentials.py::"
                   "test_a_token_request_that_fails_after_its_caller_gave_up_does_not_fail_the_next_one",),
    ),
    Plant(
        name="identity-writes-with-account-key",
        bug="an identity-based job's blobs are written with the account key, not a token",
        file="shared/poller/storage.py",
        old="        credential = managed_identity_credential(self._client_id)\n"
            "        return ContainerClient(target.account_url, target.container, credential=credential,",
        new="        from devstack.wellknown import AZURITE_ACCOUNT, AZURITE_KEY\n"
            "        credential = {'account_name': AZURITE_ACCOUNT, 'account_key': AZURITE_KEY}  # type: ignore\n"
            "        return ContainerClient(target.account_url, target.container, credential=credential,",
        caught_by=("tests/poller/test_poller_identity.py::"
                   "test_identity_based_job_written_with_a_managed_identity_token",),
    ),
    Plant(
        name="retry-after-absurd-dropped",
        bug="an absurd Retry-After (or 'Wait N seconds') is dropped instead of held to the longest wait",
        file="shared/http/retry.py",
        old="    if math.isnan(seconds):",
        new="    if math.isnan(seconds) or seconds > MAX_RETRY_AFTER_SECONDS:",
        caught_by=("tests/unit/test_retry.py::test_absurd_retry_after_values_are_bounded_not_dropped",
                   "tests/get_job/test_get_job_faults.py::test_an_infinite_retry_after_from_the_hub_is_a_429_not_a_crash"),
    ),
    Plant(
        name="hubsim-keep-alive-off",
        bug="the hub simulator closes every connection after its answer, silently (no Connection: close)",
        file="devstack/hubsim/server.py",
        old="        self._write(response, request_id)\n        self._log(operation, str(response.status)",
        new="        self._write(response, request_id)\n        self.close_connection = True\n"
            "        self._log(operation, str(response.status)",
        caught_by=("tests/devstack/test_hubsim_sdk.py::test_keep_alive_serves_many_calls_on_one_connection",),
    ),
    Plant(
        name="no-coalescing",
        bug="no single flight: every caller of an active job goes upstream",
        file="shared/proxy/cache.py",
        old="            flight = self._flights.get(key)\n            leader = flight is None",
        new="            flight = None\n            leader = flight is None",
        caught_by=("tests/unit/test_cache.py::test_fifty_concurrent_callers_share_one_fetch",
                   "tests/get_job/test_get_job_coalescing.py::test_fifty_concurrent_requests_for_an_active_job_reach_the_hub_once"),
    ),    # Issue 22: Azure as it really is.
    Plant(
        name="infra-host-storage-by-account-name",
        bug="host storage by AzureWebJobsStorage__accountName (public cloud only) instead of the service URIs",
        file="infra/modules/app-settings.bicep",
        old="    name: 'AzureWebJobsStorage__blobServiceUri'\n    value: blobServiceUri",
        new="    name: 'AzureWebJobsStorage__accountName'\n    value: 'stjobmon'",
        caught_by=("tests/infra/test_azure_production.py::test_host_storage_is_reached_by_the_accounts_own_service_uris",),
    ),
    Plant(
        name="infra-role-name-per-deployment",
        bug="a hub role assignment named after the deployment: a redeploy makes a second one "
            "(409 RoleAssignmentExists)",
        file="infra/modules/iothub-reader.bicep",
        old="  name: guid(hub.id, principalId, roleDefinitionId)",
        new="  name: guid(hub.id, principalId, roleDefinitionId, deployment().name)",
        caught_by=("tests/infra/test_azure_production.py::"
                   "test_two_deployments_of_the_same_parameters_name_their_assignments_alike",),
    ),
    Plant(
        name="infra-sign-in-redirects-scripts",
        bug="sign-in leaves no path out: a script with a key on /api/jobs gets a 302 to a login page",
        file="infra/modules/sign-in.bicep",
        old="      excludedPaths: signInExcludedPaths",
        new="      excludedPaths: []",
        caught_by=("tests/infra/test_azure_production.py::test_by_default_scripts_get_401_and_people_are_sent_to_sign_in",
                   "tests/infra/test_sign_in.py::test_sign_in_configures_authsettings_v2_for_entra_with_the_operators_registration"),
    ),
    Plant(
        name="infra-blob-writer-account-by-default",
        bug="an output account with no container listed gets the role on the whole account",
        file="infra/modules/blob-writer.bicep",
        old="= if (wholeAccount) {",
        new="= if (wholeAccount || empty(containers)) {",
        caught_by=("tests/infra/test_azure_production.py::test_blob_writer_grants_the_account_only_when_asked",),
    ),
    Plant(
        name="state-storage-with-the-jobs-identity",
        bug="the app's own account is reached with the jobs identity (MONITOR_STORAGE_CLIENT_ID) when the host's "
            "is system-assigned",
        file="shared/poller/storage.py",
        old="        credential = managed_identity_credential(storage.client_id)\n",
        new="        credential = managed_identity_credential(storage.client_id or self._client_id)\n",
        caught_by=("tests/poller/test_poller_identity.py::test_state_storage_never_uses_the_jobs_identity",),
    ),
    Plant(
        name="china-audience-chinacloudapi",
        bug="Azure China's hubs are asked for a token for https://iothubs.chinacloudapi.cn, which no SDK uses",
        file="shared/settings/cloud.py",
        old='    CHINA = ("AzureChinaCloud", ".azure-devices.cn", "https://iothubs.azure.net",',
        new='    CHINA = ("AzureChinaCloud", ".azure-devices.cn", "https://iothubs.chinacloudapi.cn",',
        caught_by=("tests/unit/test_settings.py::test_the_cloud_sets_hub_suffix_token_audience_and_storage_suffix",
                   "tests/get_job/test_get_job_credentials.py::"
                   "test_the_token_is_asked_for_the_audience_of_azure_cloud_or_the_override"),
    ),
    Plant(
        name="end-time-sentinel-shown",
        bug="a job's DateTime.MinValue/MaxValue endTimeUtc is shown as its end instead of 'not ended'",
        file="shared/jobs.py",
        old="    return NOT_ENDED if raw is None or _sentinel(raw) else raw",
        new="    return NOT_ENDED if raw is None else raw",
        caught_by=("tests/unit/test_job_end.py::test_no_end_or_a_sentinel_is_not_ended",
                   "tests/get_job/test_end_time_variants.py::test_a_job_not_ended_shows_as_not_ended_in_every_variant"),
    ),
    # Issue 26: hints from codes first, whole words second; codes named as their sources name them.
    Plant(
        name="hint-words-inside-identifiers",
        bug="a hint's words match inside identifiers (a device id `E2E_Sasl_dev1` gives the SAS hint)",
        file="shared/reports/failure_reasons.py",
        old='    return re.compile(r"(?<![\\w-])(?:" + "|".join(phrases) + r")(?![\\w-])", re.IGNORECASE)',
        new='    return re.compile(r"(?:" + "|".join(phrases) + r")", re.IGNORECASE)',
        caught_by=("tests/unit/test_failure_reasons.py::test_words_inside_identifiers_never_decide_a_hint",),
    ),
    Plant(
        name="hint-storage-xml-code-ignored",
        bug="storage's XML `<Code>` is not read as the failure reason's code",
        file="shared/reports/reason_shapes.py",
        old="    for found in (_IH_CODE.search(text), _ERROR_CODE_LINE.search(text), _XML_CODE.search(text)):",
        new="    for found in (_IH_CODE.search(text), _ERROR_CODE_LINE.search(text)):",
        caught_by=("tests/unit/test_hint_corpus.py::test_a_real_failure_text_gets_the_hint_of_its_real_cause",
                   "tests/unit/test_failure_reasons.py::test_codes_are_read_from_every_shape_and_only_known_names_count"),
    ),
    Plant(
        name="error-code-412002-as-etag",
        bug="412002 named as an ETag failure (PreconditionFailed) instead of DeviceMessageLockLost",
        file="shared/reports/code_names.py",
        old='    412002: ("DeviceMessageLockLost", ERRORCODE_CS),',
        new='    412002: ("PreconditionFailed", ERRORCODE_CS),',
        caught_by=("tests/unit/test_hint_corpus.py::test_a_code_in_a_real_text_is_named_as_the_docs_and_sdks_name_it",
                   "tests/unit/test_reports.py::test_error_code_table_names_explains_and_counts"),
    ),
    # Issue 20 (i20-deliver): the report exists when the job's container refuses it; bounded ticks; no page healthy
    # when it is not.
    Plant(
        name="report-copy-waits-for-the-job-container",
        bug="a job whose container refused an earlier write of the tick gets no report copy (as before issue 20)",
        file="shared/poller/writer.py",
        old="            if not done.report_tried:\n",
        new="            if done.report_tried and not done.report_tried:\n",
        caught_by=("tests/poller/test_report_delivery.py::"
                   "test_a_read_only_sas_still_gets_a_report_that_says_why_it_is_not_beside_the_job",
                   "tests/routes/test_demo_read_only_export.py::"
                   "test_the_read_only_demo_export_shows_its_report_and_why_it_is_not_beside_the_job"),
    ),
    Plant(
        name="delivery-backoff-ignored",
        bug="a refused delivery beside the job is tried again on every tick, not after its backoff",
        file="shared/poller/report_writer.py",
        old="        return record.report is not ReportState.PENDING or delivery.due(",
        new="        return True or record.report is not ReportState.PENDING or delivery.due(",
        caught_by=("tests/poller/test_report_delivery.py::"
                   "test_a_read_only_sas_still_gets_a_report_that_says_why_it_is_not_beside_the_job",),
    ),
    Plant(
        name="delivery-never-given-up",
        bug="a refused delivery is tried for ever, past the job's history window",
        file="shared/reports/delivery.py",
        old="    given_up = refusal.final or next_attempt > window_end\n",
        new="    given_up = refusal.final\n",
        caught_by=("tests/unit/test_delivery.py::"
                   "test_a_delivery_is_given_up_once_its_next_attempt_would_fall_past_the_history_window",
                   "tests/poller/test_report_delivery.py::test_a_refused_delivery_is_given_up_past_the_jobs_history_window"),
    ),
    Plant(
        name="tick-list-past-its-share",
        bug="the hub list may retry a throttled hub for four times the tick's remaining budget",
        file="shared/poller/tick.py",
        old="listed = self._hub_client.list_jobs(hub, deadline=Deadline(deadline.remaining() * LIST_SHARE)",
        new="listed = self._hub_client.list_jobs(hub, deadline=Deadline(deadline.remaining() * 4)",
        caught_by=("tests/poller/test_throttled_ticks.py::"
                   "test_every_tick_stays_within_its_budget_under_a_hub_that_throttles_everything",),
    ),
    Plant(
        name="tick-budget-ignores-schedule",
        bug="the tick's budget is not cut to below the schedule's interval (240 s ticks every 20 s)",
        file="shared/poller/budget.py",
        old="        bounds.append(interval - SCHEDULE_MARGIN_SECONDS)\n",
        new="        pass\n",
        caught_by=("tests/unit/test_tick_budget.py::"
                   "test_the_budget_ends_before_the_next_tick_and_before_the_host_ends_the_run",),
    ),
    Plant(
        name="last-known-jobs-dropped",
        bug="a hub that cannot be listed shows its error only: its last known jobs are gone (as before issue 20)",
        file="shared/proxy/listing.py",
        old="        if known is None:\n            raise trouble\n",
        new="        if True:\n            raise trouble\n",
        caught_by=("tests/routes/test_trouble_and_delivery.py::"
                   "test_a_hub_that_throttles_everything_keeps_its_last_known_jobs_with_a_warning",),
    ),
    Plant(
        name="last-known-list-swept-with-the-ttl",
        bug="a hub's shared list entry may be swept a minute after its TTL: the last known jobs are lost",
        file="shared/proxy/shared_tier.py",
        old="                keep = max(keep, LAST_KNOWN_LIST_SECONDS)",
        new="                keep = max(keep, 0.0)",
        caught_by=("tests/shared_cache/test_list_route.py::"
                   "test_a_hub_that_throttles_everything_still_lists_its_last_known_jobs_on_every_instance",),
    ),
    Plant(
        name="poller-threads-without-invocation",
        bug="the poller's thread pools log without the invocation id (the old threaded logging): Azure's host, "
            "and the devstack's, drop their lines",
        file="shared/poller/tick.py",
        old="executor.submit(carried(self._poll_hub), hub, deadline",
        new="executor.submit(self._poll_hub, hub, deadline",
        also=(("pool.submit(carried(one), record)", "pool.submit(one, record)"),),
        caught_by=("tests/infra/test_alert_queries.py::test_every_app_line_carries_a_running_invocation_of_its_function",
                   "tests/infra/test_alert_queries.py::test_the_scenario_logged_what_the_rules_watch",
                   "tests/infra/test_alert_queries.py::test_report_written_alerts_once_per_report",
                   "tests/infra/test_alert_queries.py::test_job_stalled_alerts_per_stalled_job",
                   "tests/infra/test_alert_queries.py::test_hub_failing_alerts_for_the_failing_hub_only"),
    ),
    Plant(
        name="funchost-logs-every-thread",
        bug="the devstack host keeps a user log of a thread without a running invocation id (files it under a "
            "running invocation), as it did before: no test could see the poller's lost lines",
        file="devstack/funchost/logs.py",
        old="        if not isinstance(invocation_id, str):\n            return None",
        new="        if not isinstance(invocation_id, str):\n"
            "            return next(iter(self._running.values()), None)",
        caught_by=("tests/devstack/test_funchost_as_azure.py::"
                   "test_a_user_log_from_a_thread_without_a_running_invocation_id_never_reaches_the_telemetry",),
    ),
    Plant(
        name="funchost-timeout-not-enforced",
        bug="the devstack host waits for a function however long it runs (functionTimeout ignored)",
        file="devstack/funchost/invocation.py",
        old="    worker.join(timeout_seconds)",
        new="    worker.join()",
        caught_by=("tests/devstack/test_funchost_as_azure.py::"
                   "test_function_timeout_ends_a_run_as_the_host_does_and_the_next_run_recovers",),
    ),
    Plant(
        name="funchost-run-now-behind-retries",
        bug="a run-now waits behind every retry of the run before it (the function held across retry delays)",
        file="devstack/funchost/runs.py",
        old="            finally:\n                self._turns.give_back()\n"
            "            if record.state is RunState.SUCCEEDED:",
        new="            finally:\n                pass\n            if record.state is RunState.SUCCEEDED:",
        also=(("        record.finished_at = datetime.datetime.now(datetime.UTC).isoformat()\n",
               "        self._turns.give_back()\n"
               "        record.finished_at = datetime.datetime.now(datetime.UTC).isoformat()\n"),
              ("        with self._cond:\n            self._waiting.append(record.id)",
               "        if self.holder is record:\n            return\n"
               "        with self._cond:\n            self._waiting.append(record.id)")),
        caught_by=("tests/devstack/test_funchost_as_azure.py::"
                   "test_a_run_now_waits_for_the_attempt_running_and_its_own_never_for_retries_and_says_so",),
    ),
    Plant(
        name="continuation-repeats-its-last-job",
        bug="an 'older' link's continuation starts at the last job shown, not after it (a job twice, no end)",
        file="shared/proxy/filters.py",
        old="(theirs == mine and job_id > self.job_id)",
        new="(theirs == mine and job_id >= self.job_id)",
        caught_by=("tests/unit/test_list_filters.py::"
                   "test_the_continuation_starts_after_the_last_job_shown_even_when_newer_jobs_arrive",
                   "tests/unit/test_list_filters.py::"
                   "test_jobs_started_at_the_same_instant_continue_by_job_id_without_loss_or_repeat"),
    ),
    Plant(
        name="free-text-ignores-failure-reason",
        bug="the free-text filter `q` looks in the job id only, not the failure reason",
        file="shared/proxy/listing.py",
        old="""    search = f"{job.get('jobId')}\\n{reason if isinstance(reason, str) else ''}".lower()""",
        new="""    search = f"{job.get('jobId')}".lower()""",
        caught_by=("tests/unit/test_list_filters.py::"
                   "test_free_text_finds_a_job_by_a_piece_of_its_id_or_its_failure_reason_whatever_the_case",),
    ),
    Plant(
        name="status-page-ignores-filters",
        bug="the status page parses its filters and then shows every job anyway",
        file="shared/status/query.py",
        old="        return cls(hubs=chosen, filters=replace(filters, top=None, before=None),",
        new="        return cls(hubs=chosen, filters=ListFilters(),",
        caught_by=("tests/routes/test_list_filters.py::test_a_filtered_page_is_a_link_that_shows_only_the_matching_jobs",),
    ),
    Plant(
        name="demo-sdk-call-unbounded",
        bug="the demo's SDK calls keep msrest's own timeout (100 s a try): a silent simulator holds `make run`",
        file="devstack/demo.py",
        old="    manager.protocol.config.connection.timeout = call_timeout\n",
        new="",
        caught_by=("tests/devstack/test_demo.py::test_a_silent_simulator_is_a_timeout_that_says_what_it_waited_for",),
    ),
    Plant(
        name="recovery-failure-fails-the-hub",
        bug="a recovery that fails on anything but a flooded folder escapes the job's write: the hub's tick fails",
        file="shared/poller/writer.py",
        old="            except Exception as exc:\n                self._failed(done, exc, hub, record, targets)\n"
            "        except Exception as exc:",
        new="            except JobMonitorError as exc:\n"
            "                self._failed(done, exc, hub, record, targets)\n        except Exception as exc:",
        caught_by=("tests/poller/test_job_isolation.py::"
                   "test_a_refused_recovery_listing_is_the_jobs_failure_given_up_with_a_report_note",),
    ),
    Plant(
        name="parse-errors-only-valueerror",
        bug="a body read back from a job's container is parsed catching only ValueError (RecursionError escapes)",
        file="shared/poller/documents.py",
        old="PARSE_ERRORS = (ValueError, RecursionError, OverflowError, MemoryError)",
        new="PARSE_ERRORS = (ValueError,)",
        caught_by=("tests/poller/test_job_isolation.py::"
                   "test_snapshot_named_blobs_nested_too_deep_to_parse_fail_neither_the_hub_nor_the_job",),
    ),
    Plant(
        name="give-up-drops-the-owed-report",
        bug="a job given up after failed writes drops the report it owed: nothing says why it stopped",
        file="shared/poller/confirm.py",
        old="        if with_note:\n",
        new="        if False:\n",
        caught_by=("tests/unit/test_core.py::test_a_job_given_up_after_failed_writes_owes_a_report_that_says_why_once",
                   "tests/poller/test_job_isolation.py::"
                   "test_a_refused_recovery_listing_is_the_jobs_failure_given_up_with_a_report_note"),
    ),
    Plant(
        name="identity-reads-the-named-log",
        bug="with the app's identity, the errors log is read from the blob the job's outputBlobName names",
        file="shared/reports/import_errors.py",
        old="    if with_identity:\n        shown = redact_text(str(value))[:100]",
        new="    if False:\n        shown = redact_text(str(value))[:100]",
        caught_by=("tests/poller/test_job_isolation.py::"
                   "test_the_identity_reads_no_blob_a_job_names_only_the_imports_errors_log",),
    ),
    Plant(
        name="recovery-keeps-what-it-read",
        bug="recovery builds latest.json (kept in the state) from whatever the folder's newest snapshot holds",
        file="shared/poller/writer.py",
        old="max_bytes=MAX_RECORD_DOCUMENT_BYTES,\n",
        new="max_bytes=8 << 20,\n",
        also=(("document = our_snapshot(parse_json_object(stored), job_id=record.job_id, pair=(status, progress))",
               "document = parse_json_object(stored)"),),
        caught_by=("tests/poller/test_job_isolation.py::"
                   "test_planted_six_mib_snapshots_with_a_leased_latest_json_never_grow_the_state",),
    ),
    Plant(
        name="job-document-uncut",
        bug="a job document of any size is kept whole in the state and in every snapshot",
        file="shared/poller/documents.py",
        old="    if len(json_bytes(document)) > MAX_RECORD_DOCUMENT_BYTES:\n        document = _cut(document)",
        new="    if False:\n        document = _cut(document)",
        caught_by=("tests/poller/test_job_isolation.py::"
                   "test_a_job_document_larger_than_a_record_may_be_is_cut_to_the_jobs_documented_fields",),
    ),
    Plant(
        name="shared-log-owner-from-times-only",
        bug="whose errors log a shared container holds is decided by its times alone, not by the hub's list",
        file="shared/reports/import_errors.py",
        old="    return max(later)[1] if later else None",
        new="    return None",
        caught_by=("tests/poller/test_poller_shared_containers.py::"
                   "test_two_imports_ending_between_two_ticks_each_report_only_their_own_evidence",
                   "tests/unit/test_reports.py::test_the_later_import_into_the_same_container_overwrote_the_log"),
    ),
    Plant(
        name="input-replaced-still-counted",
        bug="an input blob written after the import started is counted as that import's input",
        file="shared/reports/import_errors.py",
        old="    return last_modified is not None and started is not None and last_modified > started + slack",
        new="    return False",
        caught_by=("tests/poller/test_poller_shared_containers.py::"
                   "test_an_input_written_after_the_import_started_is_not_counted_as_its_input",),
    ),
    # Issue 25: guarantees no test held (each left the whole suite green when planted by hand).
    Plant(
        name="redaction-fail-closed-off",
        bug="the fail-closed pass is skipped: a secret the in-place passes miss (a cut-off JSON string, "
            "`\"primaryKey\" : \"...`, `AccountKey = \"...`, a URL-encoded connection string) comes out verbatim",
        file="shared/redaction.py",
        old="    if not _still_hides_secret(redacted):\n        return redacted",
        new="    if True:\n        return redacted",
        caught_by=("tests/unit/test_redaction_edges.py::"
                   "test_a_secret_the_in_place_passes_miss_is_withheld_by_the_fail_closed_pass",),
    ),
    Plant(
        name="shared-404-kept-a-day",
        bug="a 404 in the shared cache is fresh as long as a finished job's answer (a day), not the TTL",
        file="shared/proxy/shared_tier.py",
        old="return age < (TERMINAL_MAX_AGE_SECONDS if answer.terminal else self._ttl)",
        new="return age < (TERMINAL_MAX_AGE_SECONDS if answer.terminal or answer.body is None else self._ttl)",
        caught_by=("tests/shared_cache/test_expiry.py::test_a_shared_404_is_asked_again_after_its_ttl",),
    ),
    Plant(
        name="status-header-key-in-links",
        bug="a function key sent in the x-functions-key header is copied into every link of the status page",
        file="shared/status/page.py",
        old="query = PageQuery.parse(request.params, self._settings.hub, now=utc_now())",
        new="query = replace(PageQuery.parse(request.params, self._settings.hub, now=utc_now()),\n"
            '                            key=request.params.get("code") or request.headers.get("x-functions-key"))',
        caught_by=("tests/routes/test_status_rows.py::test_a_key_sent_in_a_header_never_reaches_a_link",),
    ),
    Plant(
        name="status-queued-without-start-hidden",
        bug="a job without a start time (queued) is left out of the status page's window",
        file="shared/status/page.py",
        old="item.started is None or item.started >= since",
        new="item.started is not None and item.started >= since",
        caught_by=("tests/routes/test_status_rows.py::test_a_queued_job_without_a_start_time_is_listed",),
    ),
    Plant(
        name="status-finished-flagged-stalled",
        bug="the status page shows a finished job stalled when the poller's last record still says so",
        file="shared/status/page.py",
        old='stalled: bool | None = record.get("stalled") is True and not status.is_terminal',
        new='stalled: bool | None = record.get("stalled") is True',
        caught_by=("tests/routes/test_status_rows.py::test_a_job_that_finished_is_never_shown_stalled",),
    ),
    Plant(
        name="report-copy-not-redacted-again",
        bug="the report route serves its stored copy without redacting it again",
        file="shared/reports/serve.py",
        old="redacted: dict[str, Any] = redact_value(document)",
        new="redacted: dict[str, Any] = document",
        caught_by=("tests/routes/test_status_rows.py::test_the_report_route_redacts_its_stored_copy_again",),
    ),
    Plant(
        name="timeline-out-of-order",
        bug="the timeline chart draws its points in the order stored, not in time order",
        file="shared/reports/timeline_svg.py",
        old="    found.sort(key=lambda point: point.at)\n",
        new="",
        caught_by=("tests/unit/test_pages.py::test_the_chart_draws_its_points_in_time_order_whatever_the_order_stored",),
    ),
    Plant(
        name="timeline-thinning-drops-last",
        bug="thinning the timeline to MAX_POINTS drops its last point",
        file="shared/reports/timeline_svg.py",
        old="step = len(found) / (MAX_POINTS - 1)\n"
            "        found = [found[int(i * step)] for i in range(MAX_POINTS - 1)] + [found[-1]]",
        new="step = len(found) / MAX_POINTS\n        found = [found[int(i * step)] for i in range(MAX_POINTS)]",
        caught_by=("tests/unit/test_pages.py::test_thinning_keeps_the_first_and_the_last_point",),
    ),
    Plant(
        name="accept-tie-goes-last",
        bug="content negotiation gives a tie in Accept to the last type named, not the first",
        file="shared/reports/serve.py",
        old="if best is None or quality > best[0]:",
        new="if best is None or quality >= best[0]:",
        caught_by=("tests/unit/test_pages.py::test_a_tie_in_accept_goes_to_the_first_type_named",),
    ),
    Plant(
        name="sweep-stopped-by-future-marker",
        bug="a sweep marker dated in the future stops the shared cache's sweep until that date",
        file="shared/cache/sweep.py",
        old="if 0.0 <= now - last < self._interval:",
        new="if now - last < self._interval:",
        caught_by=("tests/shared_cache/test_expiry.py::test_a_sweep_marker_dated_in_the_future_does_not_stop_the_sweep",),
    ),
    Plant(
        name="first-run-state-overwrites",
        bug="the first run creates the poller's state with overwrite instead of create-if-none",
        file="shared/poller/store.py",
        old="result = blob.upload_blob(data, overwrite=False, **options)",
        new="result = blob.upload_blob(data, overwrite=True, **options)",
        caught_by=("tests/poller/test_state_first_run.py::test_a_first_run_creates_the_state_only_if_none_exists",),
    ),
    # Issue 21 (i21-bounds): bounded reads of stored bodies
    Plant(
        name="stored-bodies-unpacked-by-azure-core",
        bug="downloads let azure-core unpack a gzip body itself (no decompress=False): 1 MiB stored becomes 1 GiB "
            "in one piece, before any bound of ours",
        file="shared/blob_reads.py",
        old='STORED_BYTES: dict[str, Any] = {"decompress": False, "max_concurrency": 1}',
        new='STORED_BYTES: dict[str, Any] = {"max_concurrency": 1}',
        caught_by=(
            "tests/poller/test_bounded_bodies.py::test_a_gzip_bomb_errors_log_is_cut_unpacked_and_the_report_says_why",
            "tests/poller/test_bounded_bodies.py::"
            "test_a_gzip_bomb_in_the_apps_own_blobs_is_never_unpacked_past_their_bounds",
            "tests/poller/test_bounded_bodies.py::"
            "test_an_input_that_unpacks_past_its_bound_is_not_counted_and_the_report_still_comes",
        ),
    ),
    Plant(
        name="time-overflow-raised",
        bug="a time whose offset takes it past datetime's limits (0001-01-01T00:00:00+01:00) raises OverflowError "
            "out of parse_utc: the report page, /api/jobs and the status page answer 500",
        file="shared/clock.py",
        old="    except (ValueError, OverflowError):",
        new="    except ValueError:",
        caught_by=(
            "tests/unit/test_clock.py::test_a_time_we_cannot_use_is_unknown",
            "tests/routes/test_odd_times.py::test_the_report_page_shows_an_overflowing_poll_time_as_unknown",
            "tests/routes/test_odd_times.py::test_the_job_list_answers_with_every_job_whatever_its_times",
            "tests/routes/test_odd_times.py::test_the_status_page_shows_unknown_for_times_it_cannot_read",
        ),
    ),
    Plant(
        name="redaction-one-round",
        bug="redaction runs its passes once, not to a fixed point: redact(redact(x)) != redact(x) for some texts, "
            "and every instance reads the shared list entry another wrote as corrupt (4 hub list calls, not 1)",
        file="shared/redaction.py",
        old="        if redacted == current:\n            return redacted",
        new="        if True:\n            return redacted",
        caught_by=(
            "tests/unit/test_redaction_idempotent.py::test_the_strings_found_not_idempotent_before_are",
            "tests/shared_cache/test_redacted_entries.py::"
            "test_eight_callers_on_four_instances_make_one_hub_list_call_whatever_the_jobs_text",
        ),
    ),
    Plant(
        name="redaction-swallowed-name-kept",
        bug="a pass that took a secret's name (`Bearer primaryKey: x`) leaves its value in the text, unnoticed",
        file="shared/redaction.py",
        old="    if _swallowed(text, redacted):",
        new="    if False and _swallowed(text, redacted):",
        caught_by=(
            "tests/unit/test_redaction_idempotent.py::test_a_planted_secret_in_any_spacing_or_quoting_never_comes_out",),
    ),
    Plant(
        name="allowlist-port-ignored",
        bug="a storage allowlist entry allows its host on any port: a job URI on an allowed host but another port "
            "receives requests carrying its SAS",
        file="shared/http/targets.py",
        old="        return endpoint.effective_port() == self.port and fnmatch.fnmatchcase(endpoint.host, "
            "self.pattern)",
        new="        return fnmatch.fnmatchcase(endpoint.host, self.pattern)",
        caught_by=(
            "tests/unit/test_allowlist_ports.py::test_an_entry_allows_its_host_on_its_port_only",
            "tests/poller/test_allowlist_ports.py::"
            "test_a_job_on_an_allowed_host_but_another_port_is_skipped_and_its_sas_goes_nowhere",
        ),
    ),
    Plant(
        name="stored-body-clock-between-pieces",
        bug="a stored body's clock is looked at only between stored pieces: one piece that unpacks to 1 GiB is "
            "unpacked (to the size bound) before the deadline is seen",
        file="shared/blob_reads.py",
        old="            for piece in decoder.pieces(stored):\n                if self._expired():",
        new="            for piece in decoder.pieces(stored):\n                if False:",
        caught_by=("tests/poller/test_bounded_bodies.py::"
                   "test_the_clock_is_looked_at_inside_one_stored_piece_not_only_between_pieces",),
    ),
    # Issue 22, point 7: main.bicep split into modules; the tests follow main.bicep into them.
    Plant(
        name="infra-site-module-drops-app-settings",
        bug="the site module sets only the plan's own settings: the app's settings (modules/app-settings.bicep) never "
            "reach the site",
        file="infra/modules/site.bicep",
        old="  appSettings: concat(appSettings, classicRuntimeSettings,",
        new="  appSettings: concat(classicRuntimeSettings,",
        caught_by=("tests/infra/test_settings_sources.py::test_the_site_gets_every_setting_the_app_reads",
                   "tests/infra/test_flex_rules.py::test_flex_thread_pool_matches_the_http_concurrency"),
    ),
    Plant(
        name="infra-storage-key-as-output",
        bug="the storage module outputs the account key (kept in clear in the deployment history)",
        file="infra/modules/storage.bicep",
        old="output accountName string = storage.name\n",
        new="output accountName string = storage.name\noutput accountKey string = storage.listKeys().keys[0].value\n",
        caught_by=("tests/infra/test_azure_production.py::test_no_account_key_crosses_a_module_boundary",),
    ),
    Plant(
        name="job-page-sentinel-end-shown",
        bug="a job's page reads endTimeUtc as it came: a DateTime.MaxValue sentinel is an end in 9999 and a duration "
            "of millions of hours (as when issues 22 and 23 merged)",
        file="shared/status/job_html.py",
        old='started, ended = parse_utc(job.get("startTimeUtc")), job_end(job)',
        new='started, ended = parse_utc(job.get("startTimeUtc")), parse_utc(job.get("endTimeUtc"))',
        also=(('NOT_ENDED if job_end_text(job) == NOT_ENDED else time_html(ended, now, raw=job_end_text(job))',
               'time_html(ended, now, raw=job.get("endTimeUtc"))'),),
        caught_by=("tests/unit/test_job_end.py::test_the_job_page_shows_a_job_without_an_end_as_not_ended_with_no_duration",),
    ),
    Plant(
        name="report-page-outside-sign-in",
        bug="/api/jobs/{jobId}/report serves the HTML page (as before issue 22's point 3) instead of a 303 to "
            "/api/status/jobs/{jobId}/report: a page for people on a path sign-in leaves out",
        file="shared/reports/serve.py",
        old="            if wanted is ReportFormat.HTML and not page:\n",
        new="            if False:\n",
        caught_by=("tests/routes/test_report.py::"
                   "test_a_browser_on_the_scripts_route_is_sent_to_the_page_under_sign_in",),
    ),
    Plant(
        name="job-page-outside-sign-in",
        bug="a job's page served at /api/jobs/{jobId}/page, which Easy Auth's /api/jobs/* exclusion leaves out of "
            "sign-in",
        file="job_page/function.json",
        old='"route": "status/jobs/{jobId}"',
        new='"route": "jobs/{jobId}/page"',
        caught_by=("tests/infra/test_sign_in.py::"
                   "test_every_page_for_people_is_behind_sign_in_and_every_scripts_route_is_left_to_the_key",),
    ),
    Plant(
        name="list-memo-keyed-by-equality",
        bug="the listed jobs' redaction memo keyed by their items (1, 1.0 and True are equal in Python): a job "
            "listed again with another value's type gets the first one's redacted copy",
        file="shared/proxy/prepared.py",
        old="        keys = [(redact_sas, repr(job)) for job in jobs]\n",
        new="        keys = [(redact_sas, tuple(job.items())) for job in jobs]\n",
        caught_by=("tests/unit/test_list_memo.py::test_jobs_that_differ_only_in_a_value_s_type_never_share_an_entry",),
    ),
    # Issue 22, point 7 (second split): the alert rules and the app's settings in modules of their own.
    Plant(
        name="infra-alert-rules-renamed-in-module",
        bug="the alerts module names its rules anew (alerts-<app>-<key>): a redeploy over a deployment made before "
            "the split adds a second set of rules beside the first",
        file="infra/modules/alerts.bicep",
        old="  name: 'alert-${appName}-${rule.key}'",
        new="  name: 'alerts-${appName}-${rule.key}'",
        caught_by=("tests/infra/test_template_wiring.py::test_the_alert_rules_keep_their_names_in_their_module",),
    ),
    # Issue 24: the cadence
    Plant(
        name="cadence-lost-claim-lists-anyway",
        bug="a tick whose claim of the cadence record lost to another tick lists what it decided anyway: every "
            "instance at once lists an idle hub",
        file="shared/poller/cadence_store.py",
        old="                if written is not None:\n"
            "                    return Begun(due=due, looked=now, etag=written,",
        new="                if True:\n                    return Begun(due=due, looked=now, etag=written,",
        caught_by=("tests/poller/test_cadence.py::"
                   "test_an_idle_hub_is_listed_once_per_idle_interval_whatever_the_instances_and_overlaps",),
    ),
    Plant(
        name="cadence-nudge-ignored",
        bug="a nudge does not make its hub due: a job get_job was asked about waits for the idle interval",
        file="shared/poller/cadence.py",
        old="    if cadence.nudged is not None and cadence.nudged >= cadence.looked:\n        return Due.NUDGED",
        new="    if cadence.nudged is not None and cadence.nudged > cadence.looked + 86400:\n        return Due.NUDGED",
        caught_by=("tests/unit/test_cadence.py::"
                   "test_a_nudge_is_written_only_for_a_hub_not_due_anyway_and_is_taken_by_the_next_look",
                   "tests/poller/test_cadence.py::"
                   "test_an_answer_with_an_active_job_nudges_its_idle_hub_to_the_next_tick_without_a_hub_call"),
    ),
    Plant(
        name="cadence-idle-hub-every-other-interval",
        bug="an idle hub is listed every second idle interval (the interval counted from the look before last): "
            "a job that lives and ends between two looks waits twice as long",
        file="shared/poller/cadence.py",
        old="    if since < 0 or since >= settings.idle_seconds - settings.early_seconds:",
        new="    if since < 0 or since >= 2 * settings.idle_seconds - settings.early_seconds:",
        caught_by=("tests/unit/test_cadence.py::"
                   "test_an_idle_hub_is_listed_twelve_times_an_hour_on_a_thirty_second_timer",
                   "tests/poller/test_cadence.py::"
                   "test_a_job_that_starts_and_ends_while_its_hub_is_idle_gets_its_snapshot_and_report"),
    ),
    Plant(
        name="cadence-busy-hub-left-idle",
        bug="a hub whose last listing showed an active job is left to the idle interval: its report comes up to "
            "five minutes after the job's end",
        file="shared/poller/cadence.py",
        old="    if cadence.active:\n        return Due.BUSY",
        new="    if cadence.active and cadence.failed:\n        return Due.BUSY",
        caught_by=("tests/unit/test_cadence.py::"
                   "test_a_busy_hub_is_listed_on_every_tick_until_its_job_ended_the_recent_window_ago",
                   "tests/poller/test_cadence.py::"
                   "test_an_answer_with_an_active_job_nudges_its_idle_hub_to_the_next_tick_without_a_hub_call"),
    ),
    Plant(
        name="grant-ahead-counts-from-its-grant",
        bug="a grant ahead stops counting a minute after it was granted, not after the last moment it may be used: "
            "a call made with it late in its horizon is counted for less than a minute (the budget weakened)",
        file="shared/cache/budget.py",
        old="        end = now + ahead + WINDOW_SECONDS + HOLD_SECONDS",
        new="        end = now + WINDOW_SECONDS + HOLD_SECONDS",
        caught_by=("tests/unit/test_budget_ahead.py::"
                   "test_a_grant_ahead_counts_a_full_window_past_the_last_moment_it_may_be_used",),
    ),
)

_FAILED = re.compile(r"^(?:FAILED|ERROR) (\S+?)(?:\[.*?\])?(?: - .*)?$")


def applied(plant: Plant, root: Path = REPO) -> str:
    """The planted file's text (raises ValueError if an edit no longer applies exactly once)."""
    text = (root / plant.file).read_text()
    for old, new in ((plant.old, plant.new), *plant.also):
        count = text.count(old)
        if count != 1:
            raise ValueError(f"{plant.name}: {old!r} occurs {count} times in {plant.file} (expected once)")
        text = text.replace(old, new, 1)
    return text


def _copy_tree(into: Path) -> None:
    listing = [GIT, "ls-files", "-z", "--cached", "--others", "--exclude-standard"]
    files = subprocess.run(  # noqa: S603 - git with fixed arguments
        listing, cwd=REPO, capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, files):
        source = REPO / name
        if source.is_file():
            target = into / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    for name in LINKED:
        if (REPO / name).exists():
            (into / name).symlink_to(REPO / name)


def run(plant: Plant) -> tuple[bool, list[str]]:
    """Plant in a copy of the tree and run its tests: (every catcher failed, the tests that failed)."""
    with tempfile.TemporaryDirectory(prefix=f"plant-{plant.name}-") as tmp:
        root = Path(tmp)
        _copy_tree(root)
        (root / plant.file).write_text(applied(plant, root))
        python = REPO / ".venv" / "bin" / "python"
        result = subprocess.run(  # noqa: S603 - this repository's own pytest, on its own test files
            [str(python if python.exists() else sys.executable), "-m", "pytest", "-q", "-p", "no:cacheprovider",
             "-o", "addopts=", "-rfE", *plant.test_files],
            cwd=root, capture_output=True, text=True, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        )
    failed = sorted({m.group(1) for line in result.stdout.splitlines() if (m := _FAILED.match(line))})
    return all(node in failed for node in plant.caught_by), failed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="plants to run (default: all)")
    parser.add_argument("--list", action="store_true", help="list the plants and exit")
    args = parser.parse_args()
    chosen = [p for p in PLANTS if not args.names or p.name in args.names]
    unknown = set(args.names) - {p.name for p in PLANTS}
    if unknown:
        parser.error(f"unknown plants: {', '.join(sorted(unknown))}")
    if args.list:
        for plant in chosen:
            print(f"{plant.name}: {plant.bug}")
        return 0
    print("| plant | bug | caught by | red |")
    print("|---|---|---|---|")
    missed = 0
    for plant in chosen:
        caught, failed = run(plant)
        missed += not caught
        names = "<br>".join(f"`{node.split('::')[-1]}`" for node in plant.caught_by)
        print(f"| `{plant.name}` | {plant.bug} | {names} | {'yes' if caught else 'NO: ' + ', '.join(failed)} |",
              flush=True)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
