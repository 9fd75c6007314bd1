"""Scan the files git tracks (or would track) for committed secrets.

    python tools/secret_scan.py [--root DIR]

Finds SAS signatures (`sig=` with a value), `SharedAccessKey=` / `AccountKey=` with a value, JWTs,
private keys (`-----BEGIN ... PRIVATE KEY-----`) and long base64 keys in the content of every file
under DIR (default: the current directory's repository) that git tracks, or that it does not ignore
but has not been added yet. Allowed are the
documented well-known development keys (devstack/wellknown.py HUB_POLICY_KEYS and AZURITE_KEY,
devstack/funchost/keys.py defaults) and the per-file test fixtures of ALLOWED_FIXTURES below, each
with its reason. Exits 1 listing `file:line: kind (preview)` for each finding, showing at most the
first four characters of a value and its length, never the value; exits 0 when clean, 2 outside
a git repository.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import importlib
import re
import shutil
import subprocess
import sys
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GIT = shutil.which("git") or "git"
SELF = "tools/secret_scan.py"
MAX_FILE_BYTES = 5 << 20
# A secret value: base64 (standard or URL-safe), possibly percent-encoded.
_VALUE = r"[A-Za-z0-9+/_%=-]"
PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("SAS signature", re.compile(r"(?i)(?<![A-Za-z0-9])sig(?:=|%3D)(" + _VALUE + r"{16,})")),
    ("connection string key", re.compile(r"(?i)\b(?:SharedAccessKey|AccountKey)=(" + _VALUE + r"{16,})")),
    ("JWT", re.compile(r"\b(eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,})")),
    ("private key", re.compile(r"(-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----)")),
    ("base64 key", re.compile(r"(?<![A-Za-z0-9+/=_-])([A-Za-z0-9+/]{40,}={0,2})(?![A-Za-z0-9+/=_-])")),
)
# Integrity hashes (package-lock.json, pip --require-hashes) are public digests, not keys.
_DIGEST_PREFIX = re.compile(r"(?i)(?:sha(?:1|224|256|384|512)[-:=])$")

# Test fixtures that look like secrets on purpose, allowed in their file only: (path, value) -> reason.
# A fixture signature is made of base64 words that say what it is; a real one is random bytes.
ALLOWED_FIXTURES: dict[tuple[str, str], str] = {
    ("tests/support/served.py", "ZnV6ei1zZWNyZXQtc2lnbmF0dXJlLXZhbHVl"):
        "seeded SAS signature (base64 of 'fuzz-secret-signature-value'): the fuzz suite checks it never leaks",
    ("tests/support/served.py", "ZnV6ei1zZWNyZXQtc2lnbmF0dXJlLXZhbHVl%3D"):
        "the same seeded signature, URL-encoded as in the SAS URI",
    ("tests/get_job/test_get_job_faults.py", "d3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXk="):
        "a deliberately wrong policy key (base64 of 'wrong-key-wrong-key-wrong-key') for the 401 mapping test",
    ("tests/unit/test_reports.py", "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVoxMjM0NTY="):
        "a device key in a parsed importErrors.log line (base64 of the alphabet): checks it is redacted",
    ("tests/support/poller.py", "d3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXktd3Jvbmc="):
        "a deliberately wrong policy key (base64 of 'wrong-key-...') for the poller's auth-failure test",
    ("tests/support/poller.py", "c2VjcmV0LWRldmljZS1rZXktdGhhdC1tdXN0LW5vdC1sZWFr"):
        "a device key in an imported blob (base64 of 'secret-device-key-that-must-not-leak'): checks redaction",
}


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    kind: str
    value: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.kind} ({self.value[:4]}... {len(self.value)} characters)"


def well_known_values() -> frozenset[str]:
    """The documented development keys, read from the devstack modules themselves."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    wellknown = importlib.import_module("devstack.wellknown")
    keys = importlib.import_module("devstack.funchost.keys")
    values = {*wellknown.HUB_POLICY_KEYS.values(), wellknown.AZURITE_KEY, keys.DEFAULT_FUNCTION_KEY,
              keys.DEFAULT_MASTER_KEY}
    # Also as they appear URL-encoded (in a connection string in a URL, for example).
    values |= {urllib.parse.quote(value, safe="") for value in values}
    return frozenset(values)


def tracked_files(root: Path) -> list[str]:
    """The files git tracks, and those it would track (not ignored, not yet added): a secret in a new file
    is found before it is committed."""
    listed = subprocess.run(  # noqa: S603 - git with fixed arguments
        [GIT, "-C", str(root), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        check=True, capture_output=True,
    ).stdout
    return sorted({name for name in listed.decode("utf-8", "surrogateescape").split("\0") if name})


def _is_random_looking_key(value: str) -> bool:
    """A long base64 run counts as a key when it decodes to at least 24 bytes and mixes upper and
    lower case and digits (so hex digests, words and paths do not)."""
    core = value.rstrip("=")
    if not (re.search(r"[a-z]", core) and re.search(r"[A-Z]", core) and re.search(r"[0-9]", core)):
        return False
    if re.fullmatch(r"[A-Za-z]+(?:[A-Z][a-z]+|[0-9]+)*", core):  # CamelCaseIdentifiers123
        return False
    try:
        return len(base64.b64decode(core + "=" * (-len(core) % 4), validate=False)) >= 24
    except (binascii.Error, ValueError):
        return False


def scan_text(path: str, text: str, allowed: frozenset[str]) -> Iterator[Finding]:
    for number, line in enumerate(text.splitlines(), start=1):
        for kind, pattern in PATTERNS:
            for match in pattern.finditer(line):
                value = match.group(1)
                if kind == "base64 key" and (
                    _DIGEST_PREFIX.search(line[: match.start(1)]) or not _is_random_looking_key(value)
                ):
                    continue
                candidates = {value, value.rstrip("="), urllib.parse.unquote(value)}
                if candidates & allowed or any((path, c) in ALLOWED_FIXTURES for c in candidates):
                    continue
                if path == SELF and candidates & {value for _, value in ALLOWED_FIXTURES}:
                    continue  # the allowlist itself
                if kind == "base64 key" and any(value in known or known in value for known in allowed):
                    continue
                yield Finding(path, number, kind, value)


def scan(root: Path) -> list[Finding]:
    allowed = well_known_values()
    findings: list[Finding] = []
    seen: set[tuple[str, int, str]] = set()
    for name in tracked_files(root):
        file = root / name
        if not file.is_file() or file.is_symlink() or file.stat().st_size > MAX_FILE_BYTES:
            continue
        data = file.read_bytes()
        if b"\0" in data[:8192]:
            continue  # binary
        for finding in scan_text(name, data.decode("utf-8", "replace"), allowed):
            # One finding per value and line (a base64 key is also a connection string key).
            key = (finding.path, finding.line, finding.value.rstrip("="))
            if key not in seen:
                seen.add(key)
                findings.append(finding)
    return findings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tools/secret_scan.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=Path())
    args = parser.parse_args(argv)
    toplevel = subprocess.run(  # noqa: S603 - git with fixed arguments
        [GIT, "-C", str(args.root), "rev-parse", "--show-toplevel"], check=False, capture_output=True, text=True
    )
    if toplevel.returncode != 0:
        print(f"secret scan: {args.root} is not in a git repository", file=sys.stderr)
        return 2
    root = Path(toplevel.stdout.strip())
    findings = scan(root)
    for finding in findings:
        print(finding)
    files = len(tracked_files(root))
    if findings:
        print(f"secret scan: {len(findings)} finding(s) in {files} tracked files", file=sys.stderr)
        return 1
    print(f"secret scan: {files} tracked files, no secret beyond the well-known development keys")
    return 0


if __name__ == "__main__":
    sys.exit(main())
