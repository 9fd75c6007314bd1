"""tools/secret_scan.py: clean on this repository, and it catches secrets planted in a throwaway repository.

The planted secrets are made at run time (random bytes), so this file holds none itself.
"""

from __future__ import annotations

import base64
import json
import secrets
import shutil
import subprocess
import sys
import urllib.parse
from pathlib import Path

import pytest

from devstack.wellknown import AZURITE_KEY, azurite_connection_string, hub_connection_string
from tests.support.served import SIG

REPO = Path(__file__).resolve().parents[2]
SCANNER = REPO / "tools" / "secret_scan.py"
GIT = shutil.which("git") or "git"
PRIVATE_KEY_HEADER = "-----BEGIN " + "RSA PRIVATE KEY-----"


def run_scan(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCANNER), "--root", str(root)], capture_output=True, text=True,
                          check=False, timeout=120)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def random_key(size: int = 32) -> str:
    return base64.b64encode(secrets.token_bytes(size)).decode()


def make_jwt() -> str:
    header = _b64url(json.dumps({"alg": "RS256", "typ": "JWT"}).encode())
    payload = _b64url(json.dumps({"aud": "https://iothubs.azure.net", "oid": secrets.token_hex(8)}).encode())
    return f"{header}.{payload}.{_b64url(secrets.token_bytes(64))}"


@pytest.fixture
def planted_repo(tmp_path: Path) -> Path:
    subprocess.run([GIT, "init", "-q", str(tmp_path)], check=True)
    return tmp_path


def track(repo: Path, name: str, text: str) -> None:
    path = repo / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    subprocess.run([GIT, "-C", str(repo), "add", name], check=True)


def test_the_repository_has_no_secret_beyond_the_well_known_keys() -> None:
    result = run_scan(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no secret beyond the well-known development keys" in result.stdout


def test_planted_secrets_are_found_by_file_and_line_without_showing_them(planted_repo: Path) -> None:
    sig = urllib.parse.quote(random_key(), safe="")
    planted = {
        "sas.py": f'URI = "https://acct.blob.core.windows.net/c?sv=2021-08-06&sr=c&sp=rl&sig={sig}"\n',
        "hub.env": f"IOTHUB=HostName=prod.azure-devices.net;SharedAccessKeyName=iothubowner;"
                   f"SharedAccessKey={random_key()}\n",
        "storage.json": json.dumps({"conn": f"DefaultEndpointsProtocol=https;AccountName=prod;"
                                            f"AccountKey={random_key(64)};EndpointSuffix=core.windows.net"}) + "\n",
        "token.txt": f"Authorization: Bearer {make_jwt()}\n",
        "deploy/key.pem": f"{PRIVATE_KEY_HEADER}\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----\n",
        "config.yaml": f"signingKey: {random_key(48)}\n",  # a key on its own
    }
    for name, text in planted.items():
        track(planted_repo, name, "# first line\n" + text)
    result = run_scan(planted_repo)
    assert result.returncode == 1
    found = {line.split(":")[0] + ":" + line.split(":")[1] for line in result.stdout.splitlines()}
    assert found == {f"{name}:2" for name in planted}
    kinds = result.stdout
    for kind in ("SAS signature", "connection string key", "JWT", "private key", "base64 key"):
        assert kind in kinds
    # No secret value is printed whole: at most its first four characters.
    for text in planted.values():
        for word in text.replace("=", " ").replace(";", " ").replace('"', " ").split():
            if len(word) >= 16 and word != PRIVATE_KEY_HEADER.split()[-1]:
                assert word not in result.stdout + result.stderr


def test_well_known_development_keys_and_digests_pass(planted_repo: Path) -> None:
    track(planted_repo, "settings.json", json.dumps({
        "IOTHUB_CONNECTION_STRINGS": hub_connection_string("devhub", "registryRead"),
        "AzureWebJobsStorage": azurite_connection_string("http://127.0.0.1:10000/devstoreaccount1"),
        "key": AZURITE_KEY,
    }) + "\n")
    digest = base64.b64encode(secrets.token_bytes(64)).decode()
    track(planted_repo, "package-lock.json", json.dumps({"integrity": f"sha512-{digest}"}) + "\n")
    track(planted_repo, "notes.md", "A redacted SAS: &sig=REDACTED; commit 5966e43f0c8a2b1d9e7f6a5b4c3d2e1f0a9b8c7d\n")
    result = run_scan(planted_repo)
    assert result.returncode == 0, result.stdout


def test_fixture_allowlist_is_per_file(planted_repo: Path) -> None:
    """The fuzz suite's seeded signature is allowed in its own file, not anywhere else."""
    uri = f'URI = "https://a.blob.core.windows.net/c?sv=2021-08-06&sig={SIG}"\n'
    track(planted_repo, "tests/support/served.py", uri)
    assert run_scan(planted_repo).returncode == 0
    track(planted_repo, "app/config.py", uri)
    result = run_scan(planted_repo)
    assert result.returncode == 1
    assert result.stdout.startswith("app/config.py:1: SAS signature")


def test_ignored_files_are_not_scanned_but_new_untracked_ones_are(planted_repo: Path) -> None:
    """local.settings.json (ignored) may hold real keys; a new file not yet added may not: it would be
    committed with the next `git add -A`."""
    track(planted_repo, ".gitignore", "local.settings.json\n")
    (planted_repo / "local.settings.json").write_text(f"SharedAccessKey={random_key()}\n")
    assert run_scan(planted_repo).returncode == 0
    (planted_repo / "new_module.py").write_text(f'KEY = "AccountKey={random_key()}"\n')
    result = run_scan(planted_repo)
    assert result.returncode == 1
    assert result.stdout.startswith("new_module.py:1: connection string key")
