#!/usr/bin/env bash
# Static checks of the Bicep templates in infra/ with checkov (the Bicep compiler is not available here).
# --skip-download keeps checkov off the network; --framework bicep parses the .bicep files themselves.
# Exits non-zero when any check fails. Skips are inline in the templates, each with its reason:
#   // checkov:skip=CKV_...:reason   (inside the resource's braces)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
checkov="$root/.venv-tools/bin/checkov"

if [[ ! -x "$checkov" ]]; then
  echo "infra/check.sh: $checkov not found; run make setup (it builds .venv-tools from requirements-tools.txt)" >&2
  exit 2
fi

out="$(mktemp)"
trap 'rm -f "$out"' EXIT

# Without --quiet so the summary line is always printed; --compact leaves out code blocks.
status=0
"$checkov" -d "$here" --framework bicep --skip-download --compact >"$out" 2>&1 || status=$?
grep -E '^(Check:|	(FAILED|SKIPPED) for|	File:|	Suppress comment:)' "$out" | grep -B1 -A2 -E 'FAILED|SKIPPED' || true
summary="$(grep -E 'Passed checks: [0-9]+, Failed checks: [0-9]+, Skipped checks: [0-9]+' "$out" || true)"
if [[ -z "$summary" ]]; then
  cat "$out" >&2
  echo "infra/check.sh: checkov printed no bicep summary (did it parse infra/*.bicep?)" >&2
  exit 2
fi
echo "checkov (bicep): $summary"
passed="$(sed -E 's/.*Passed checks: ([0-9]+).*/\1/' <<<"$summary")"
if [[ "$passed" -eq 0 ]]; then
  echo "infra/check.sh: no check passed: the templates were probably not parsed" >&2
  exit 2
fi
exit "$status"
