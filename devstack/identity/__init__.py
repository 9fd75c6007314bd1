"""Local stand-in for the App Service managed identity endpoint (IDENTITY_ENDPOINT/IDENTITY_HEADER).

``IdentityEndpoint(port=0).start()`` serves it in-process; ``python -m devstack.identity --port 7082``
runs it as a process. Tokens are HS256 JWTs signed with devstack.wellknown.TOKEN_SIGNING_KEY.
"""

from __future__ import annotations

from devstack.identity.control import Counters, IdentityControl
from devstack.identity.issuer import DEFAULT_TOKEN_LIFETIME_SECONDS, SUPPORTED_RESOURCES
from devstack.identity.server import IdentityEndpoint
from devstack.identity.state import FaultKind

__all__ = [
    "DEFAULT_TOKEN_LIFETIME_SECONDS",
    "SUPPORTED_RESOURCES",
    "Counters",
    "FaultKind",
    "IdentityControl",
    "IdentityEndpoint",
]
