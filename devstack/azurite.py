"""Azurite (blob service only) from the repo's node_modules, plain HTTP or HTTPS with OAuth."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from devstack import processes
from devstack.wellknown import AZURITE_ACCOUNT, azurite_connection_string

AZURITE_BIN = processes.REPO_ROOT / "node_modules" / ".bin" / "azurite-blob"


@dataclass(frozen=True, kw_only=True)
class AzuriteInfo:
    port: int
    scheme: str
    ca_bundle: Path | None

    @property
    def account_url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}/{AZURITE_ACCOUNT}"

    @property
    def connection_string(self) -> str:
        return azurite_connection_string(self.account_url).replace(
            "DefaultEndpointsProtocol=http;", f"DefaultEndpointsProtocol={self.scheme};"
        )


def start_azurite(
    *, port: int, data_dir: Path, log_path: Path, tls: tuple[Path, Path] | None = None
) -> tuple[subprocess.Popen[bytes], AzuriteInfo]:
    """Start azurite-blob. With `tls` (cert, key) it serves HTTPS and accepts OAuth bearer tokens."""
    if not AZURITE_BIN.exists():
        raise FileNotFoundError(f"{AZURITE_BIN} is missing: run `make setup` (npm ci) first")
    data_dir.mkdir(parents=True, exist_ok=True)
    args = [
        str(AZURITE_BIN),
        "--blobHost", "127.0.0.1",
        "--blobPort", str(port),
        "--location", str(data_dir),
        "--skipApiVersionCheck",
        "--disableProductStyleUrl",
    ]
    if tls is not None:
        args += ["--oauth", "basic", "--cert", str(tls[0]), "--key", str(tls[1])]
    process = processes.start(args, log_path=log_path)
    try:
        processes.wait_for_port(port, process=process)
    except BaseException:
        processes.stop(process)
        raise
    info = AzuriteInfo(port=port, scheme="https" if tls else "http", ca_bundle=tls[0] if tls else None)
    return process, info
