"""A local Azure Functions host (classic v1 Python model) for machines without Core Tools.

``python -m devstack.funchost --app-root . --port 7071`` — see __main__.py for the flags and
server.py/timers.py/httpmodel.py/keys.py for the behaviour and the devstack extensions.
"""

from __future__ import annotations

from devstack.funchost.host import FunctionsHost
from devstack.funchost.keys import DEFAULT_FUNCTION_KEY, DEFAULT_MASTER_KEY, HostKeys, load_keys

__all__ = ["DEFAULT_FUNCTION_KEY", "DEFAULT_MASTER_KEY", "FunctionsHost", "HostKeys", "load_keys"]
