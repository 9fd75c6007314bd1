"""The one parser for every URI the app sends credentials to, and the checks that hold it to it.

A URI names a target only if every parser on the way agrees on it: our strict grammar, urllib's `urlsplit`
(what older code used) and urllib3's `parse_url` (what requests and azure-core really connect with). A
backslash, user information, a percent-encoded or non-ASCII host, an IP literal off loopback, a trailing
dot or an unusual port spelling is refused outright, so that `https://evil\\.blob.core.windows.net/c` can
never pass an allowlist as one host while the HTTP stack connects to another.

`TargetGuard` is the last check: it runs inside the HTTP stack on every request (for azure-storage, from
its request hook, the policy just before the credential policy; for the hub, in the session's adapter)
and refuses any request whose host, as urllib3 reads the final URL, is not the one that was allowed.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import re
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass, field

from shared.errors import TargetRejected

HTTPS = "https"
HTTP = "http"
LOOPBACK_NAMES = frozenset({"localhost"})
# RFC 1123 host names in lower case: labels of letters, digits and inner hyphens, at most 253 characters.
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_HOST_NAME = re.compile(rf"(?:{_LABEL}\.)*{_LABEL}")
_IPV4 = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")
# The whole URI, before any library reads it: printable ASCII, no backslash, no user information.
_URI = re.compile(
    r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<host>[A-Za-z0-9.-]+|\[[0-9A-Fa-f:]+\])(?::(?P<port>[1-9][0-9]{0,4}))?"
    r"(?P<path>/[!$&'()*+,;=:@A-Za-z0-9._~%/-]*)?(?:\?(?P<query>[!$&'()*+,;=:@A-Za-z0-9._~%/?-]*))?"
)
# Blob container names (3-63 lower-case letters, digits and single inner hyphens) and, for path-style URIs
# (Azurite on loopback: /{account}/{container}), storage account names.
CONTAINER_NAME = re.compile(r"[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]")
ACCOUNT_NAME = re.compile(r"[a-z0-9]{3,24}")
ANY_CONTAINER = "*"
# Containers the app's identity never writes into, in any account: the Functions host's own
# (azure-webjobs-hosts, -secrets, -eventhub), deployment packages (Flex `app-package-*`, Linux
# Consumption `scm-releases`, run-from-package `function-releases`). The app's own state containers
# are added from settings.
RESERVED_CONTAINER_PREFIXES = ("azure-webjobs-", "app-package", "scm-releases", "function-releases")
MAX_URI_CHARS = 4096
# Query parameters of a SAS that are ours to pass on; anything else is dropped before a URL is built.
SAS_PARAMETERS = frozenset({
    "sv", "ss", "srt", "sp", "se", "st", "spr", "sip", "sr", "sig", "si", "sdd", "ses", "skoid", "sktid", "skt",
    "ske", "sks", "skv", "saoid", "suoid", "scid", "rscc", "rscd", "rsce", "rscl", "rsct",
})


@dataclass(frozen=True, kw_only=True)
class Endpoint:
    """Scheme, host and port exactly as the HTTP stack will connect to them."""

    scheme: str
    host: str
    port: int | None = None

    @property
    def is_loopback(self) -> bool:
        return is_loopback_host(self.host)

    @property
    def netloc(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port is None else f"{host}:{self.port}"

    @property
    def origin(self) -> str:
        return f"{self.scheme}://{self.netloc}"

    def effective_port(self) -> int:
        return self.port if self.port is not None else (443 if self.scheme == HTTPS else 80)

    def same_as(self, other: Endpoint) -> bool:
        return (self.scheme, self.host, self.effective_port()) == (other.scheme, other.host, other.effective_port())


@dataclass(frozen=True, kw_only=True)
class ParsedUri:
    endpoint: Endpoint
    path: str
    query: str


def is_loopback_host(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_uri(uri: object, *, what: str) -> ParsedUri:
    """Parse `uri` strictly; raises TargetRejected (naming `what`, never the query) if any parser disagrees."""
    if not isinstance(uri, str) or not uri:
        raise TargetRejected(f"{what} is missing")
    if len(uri) > MAX_URI_CHARS:
        raise TargetRejected(f"{what} is longer than {MAX_URI_CHARS} characters")
    match = _URI.fullmatch(uri)
    if match is None:
        raise TargetRejected(
            f"{what} is not a plain absolute URL (only printable ASCII; no backslash, user information, "
            "fragment or unusual host or port spelling)"
        )
    scheme = match["scheme"].lower()
    host = match["host"].lower()
    if host.startswith("["):
        host = host[1:-1]
    port = int(match["port"]) if match["port"] else None
    if port is not None and port > 65535:
        raise TargetRejected(f"{what} has an invalid port")
    _check_host(host, what=what)
    if scheme != HTTPS and not (scheme == HTTP and is_loopback_host(host)):
        raise TargetRejected(f"{what} must be https (plain http only to a loopback address)")
    path, query = match["path"] or "", match["query"] or ""
    # Every reader of the URI must see the same target, or one of them is being fooled.
    from urllib3.util import parse_url  # here, not at import: get_job's cold start does not need it

    try:
        u3 = parse_url(uri)
        split = urllib.parse.urlsplit(uri)
        split_port = split.port
    except ValueError:
        raise TargetRejected(f"{what} is not a URL every HTTP library reads alike") from None
    u3_host = (u3.host or "").lower().strip("[]")
    if (
        u3.scheme != scheme or u3_host != host or u3.port != port or u3.auth is not None
        or (split.hostname or "") != host or split_port != port or (u3.path or "") != path
    ):
        raise TargetRejected(f"{what} is not a URL every HTTP library reads alike")
    return ParsedUri(endpoint=Endpoint(scheme=scheme, host=host, port=port), path=path, query=query)


def _check_host(host: str, *, what: str) -> None:
    if ":" in host:
        if host != "::1":
            raise TargetRejected(f"{what} names an IPv6 address (only ::1, loopback, is accepted)")
        return
    if _IPV4.fullmatch(host):
        try:
            address = ipaddress.IPv4Address(host)
        except ValueError:
            raise TargetRejected(f"{what} names an invalid IP address") from None
        if not address.is_loopback:
            raise TargetRejected(f"{what} names an IP address (only loopback is accepted)")
        return
    if len(host) > 253 or not _HOST_NAME.fullmatch(host) or host.replace(".", "").isdigit():
        raise TargetRejected(f"{what} does not name a valid host")
    # All-numeric last label: an IP address in another spelling (127.1, 0x7f.0.0.1) is not a host name.
    if re.fullmatch(r"(?:0x[0-9a-f]+|\d+)", host.rsplit(".", 1)[-1]):
        raise TargetRejected(f"{what} names an IP address in an unusual spelling")


@dataclass(frozen=True, kw_only=True)
class ContainerTarget:
    """A blob container: `{endpoint}{account_path}/{container}`; `sas` (never shown) opens it if usable."""

    endpoint: Endpoint
    account_path: str  # "" for https://{account}.blob.core.windows.net, "/{account}" for path-style (Azurite)
    container: str
    sas: str | None = field(default=None, repr=False)

    @property
    def account_url(self) -> str:
        return f"{self.endpoint.origin}{self.account_path}"

    @property
    def url(self) -> str:
        """The container's URL without any SAS: safe to log."""
        return f"{self.account_url}/{self.container}"

    def describe(self) -> str:
        return self.url

    def without_sas(self) -> ContainerTarget:
        return ContainerTarget(endpoint=self.endpoint, account_path=self.account_path, container=self.container)

    def sibling(self, container: str) -> ContainerTarget:
        """Another container of the same account, with no credential of this one's."""
        return ContainerTarget(endpoint=self.endpoint, account_path=self.account_path, container=container)

    def same_account(self, other: ContainerTarget) -> bool:
        return self.endpoint.same_as(other.endpoint) and self.account_path == other.account_path


def parse_container_uri(uri: object, *, what: str, allow_wildcard: bool = False) -> ContainerTarget:
    """A container URI: `https://{host}/{container}` or, on loopback only, `/{account}/{container}`; a
    SAS query is kept when it carries a usable signature. Nothing may follow the container name."""
    parsed = parse_uri(uri, what=what)
    segments = parsed.path.split("/")[1:]
    if segments and segments[-1] == "":
        segments.pop()  # one trailing slash
    account_path = ""
    if len(segments) == 2 and parsed.endpoint.is_loopback and ACCOUNT_NAME.fullmatch(segments[0]):
        account_path, segments = f"/{segments[0]}", segments[1:]
    if len(segments) != 1:
        raise TargetRejected(f"{what} must name exactly one container, with nothing after it")
    container = segments[0]
    if not (CONTAINER_NAME.fullmatch(container) or (allow_wildcard and container == ANY_CONTAINER)):
        raise TargetRejected(f"{what} does not name a valid blob container")
    return ContainerTarget(
        endpoint=parsed.endpoint, account_path=account_path, container=container, sas=usable_sas(parsed.query)
    )


def usable_sas(query: str) -> str | None:
    """The SAS of a query string, rebuilt from its parsed parameters, if it has one real signature.

    Parameter names are read as storage reads them (percent-decoded), so `%73ig=` is a signature too; a
    signature we redacted earlier is not usable; unknown parameters are dropped."""
    if not query:
        return None
    try:
        pairs = urllib.parse.parse_qsl(query, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        return None
    kept = [(name, value) for name, value in pairs if name in SAS_PARAMETERS]
    signatures = [value for name, value in kept if name == "sig"]
    if len(signatures) != 1 or not signatures[0] or signatures[0] == "REDACTED":
        return None
    if len({name for name, _ in kept}) != len(kept):
        return None  # a repeated parameter: storage and we might read different values
    return urllib.parse.urlencode(kept, quote_via=urllib.parse.quote)


HTTPS_PORT = 443
_HOST_ENTRY = re.compile(r"(?P<host>[a-z0-9*?.-]+|\[[0-9a-f:]+\])(?::(?P<port>[1-9][0-9]{0,4}))?")


@dataclass(frozen=True, kw_only=True)
class HostEntry:
    """An allowlist entry: a host pattern and the one port it allows (443, https's, unless the entry names
    another): `*.blob.core.windows.net`, `acct.blob.core.windows.net:8443`, `127.0.0.1:10000`."""

    pattern: str
    port: int = HTTPS_PORT

    def allows(self, endpoint: Endpoint) -> bool:
        return endpoint.effective_port() == self.port and fnmatch.fnmatchcase(endpoint.host, self.pattern)

    def __str__(self) -> str:
        return f"{self.pattern}:{self.port}"


def parse_host_entry(text: str) -> HostEntry:
    """`host` or `host:port` (lower case; `[::1]:port` for IPv6); raises TargetRejected saying why."""
    match = _HOST_ENTRY.fullmatch(text.strip().lower())
    if match is None:
        raise TargetRejected(f"{text[:100]!r} is not a host pattern with an optional port (host or host:port)")
    port = int(match["port"]) if match["port"] else HTTPS_PORT
    if port > 65535:
        raise TargetRejected(f"{text[:100]!r} has an invalid port")
    return HostEntry(pattern=match["host"].strip("[]"), port=port)


def reserved_container(name: str, *, own: Iterable[str] = ()) -> bool:
    return name.startswith(RESERVED_CONTAINER_PREFIXES) or name in set(own)


class TargetGuard:
    """Refuses any request that would leave for another place than the one allowed.

    Called with the request's final URL on every try, after redirects; the host is read with urllib3's own
    parser, as the connection will be made. `path_prefix` (a container's path) keeps a client that carries
    the app's identity inside the container it was allowed.
    """

    def __init__(self, endpoint: Endpoint, *, path_prefix: str = "") -> None:
        self._endpoint = endpoint
        self._path_prefix = path_prefix

    def check(self, url: str) -> None:
        from urllib3.util import parse_url

        try:
            parsed = parse_url(url)
        except ValueError:
            raise TargetRejected("a request URL could not be parsed; not sent") from None
        scheme = (parsed.scheme or "").lower()
        host = (parsed.host or "").lower().strip("[]")
        actual = Endpoint(scheme=scheme, host=host, port=parsed.port)
        if parsed.auth is not None or not actual.same_as(self._endpoint):
            raise TargetRejected(f"a request to {actual.origin} was refused: only {self._endpoint.origin} is allowed")
        path = parsed.path or "/"
        if self._path_prefix and not (path == self._path_prefix or path.startswith(self._path_prefix + "/")):
            raise TargetRejected(f"a request outside {self._endpoint.origin}{self._path_prefix} was refused")
