"""`python -m devstack.blobs CONTAINER... [--show BLOB]`: list (or print) blobs in the devstack's Azurite."""

from __future__ import annotations

import argparse
import sys

from azure.storage.blob import BlobServiceClient

from devstack.wellknown import AZURITE_ACCOUNT, AZURITE_BLOB_PORT, azurite_connection_string


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack.blobs")
    parser.add_argument("containers", nargs="+")
    parser.add_argument("--show", help="print this blob (in the first container) instead of listing")
    parser.add_argument("--port", type=int, default=AZURITE_BLOB_PORT)
    args = parser.parse_args()
    service = BlobServiceClient.from_connection_string(
        azurite_connection_string(f"http://127.0.0.1:{args.port}/{AZURITE_ACCOUNT}")
    )
    if args.show:
        sys.stdout.write(service.get_blob_client(args.containers[0], args.show).download_blob().readall().decode())
        return 0
    for name in args.containers:
        print(f"{name}/")
        for blob in service.get_container_client(name).list_blobs():
            print(f"  {blob.name}  ({blob.size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
