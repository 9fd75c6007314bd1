"""HTTP route templates: ``jobs/{jobId}``, optional ``{name?}``, constraints ``{name:int}``.

Known constraints: alpha, int, long, guid, bool, double, float, decimal, datetime; others are treated
as plain segments. A ``{*rest}`` catch-all takes the remainder of the path. Matching ignores case for
literals and trailing slashes, like ASP.NET routing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PARAMETER = re.compile(r"\{(?P<star>\*)?(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::(?P<constraint>[^}?=]+))?(?P<opt>\?)?\}")
CONSTRAINTS = {
    "alpha": r"[A-Za-z]+",
    "int": r"-?\d+",
    "long": r"-?\d+",
    "guid": r"\{?[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\}?",
    "bool": r"(?i:true|false)",
    "double": r"-?\d+(?:\.\d+)?",
    "float": r"-?\d+(?:\.\d+)?",
    "decimal": r"-?\d+(?:\.\d+)?",
    "datetime": r"[0-9][0-9T:\-\.]*",
}
PLAIN_SEGMENT = r"[^/]+"


@dataclass(frozen=True)
class Route:
    template: str
    pattern: re.Pattern[str]
    parameters: tuple[str, ...]

    @classmethod
    def compile(cls, prefix: str, template: str) -> Route:
        parts = [part for part in (prefix.strip("/"), template.strip("/")) if part]
        full = "/".join(parts)
        regex = ""
        names: list[str] = []
        for segment in full.split("/") if full else []:
            whole = PARAMETER.fullmatch(segment)
            if whole is not None:
                name = whole.group("name")
                names.append(name)
                if whole.group("star"):
                    regex += f"(?:/(?P<{name}>.*))?"
                    continue
                body = CONSTRAINTS.get((whole.group("constraint") or "").split("(")[0].lower(), PLAIN_SEGMENT)
                piece = f"/(?P<{name}>{body})"
                regex += f"(?:{piece})?" if whole.group("opt") else piece
                continue
            regex += "/" + cls._segment(segment, names)
        return cls(template=full, pattern=re.compile(f"^{regex}/?$", re.IGNORECASE), parameters=tuple(names))

    @staticmethod
    def _segment(segment: str, names: list[str]) -> str:
        """A segment mixing literal text and parameters, e.g. ``file.{ext}``."""
        out, last = "", 0
        for match in PARAMETER.finditer(segment):
            out += re.escape(segment[last : match.start()])
            name = match.group("name")
            names.append(name)
            body = CONSTRAINTS.get((match.group("constraint") or "").lower(), r"[^/]+?")
            out += f"(?P<{name}>{body})"
            last = match.end()
        return out + re.escape(segment[last:])

    def match(self, path: str) -> dict[str, str] | None:
        found = self.pattern.match(path.rstrip("/") if path != "/" else "")
        if found is None:
            return None
        return {name: value for name, value in found.groupdict().items() if value is not None}
