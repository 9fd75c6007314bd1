"""Reads infra/*.bicep with pycep (checkov's own Bicep parser) and evaluates the parts the tests reason about.

The Bicep compiler cannot be installed on the build machines, so the tests evaluate pycep's syntax tree
themselves, over every value an expression can take: `possible(expr)` returns all of them. A condition that
depends on something unknown at deployment start (a resource's runtime property, say) keeps both branches, so
"a Flex site can never get X" is checked over every way the template can go, not over one guess.

pycep's tree does not tell a string literal from a bare name (`'python'` and `python` both become "python"):
a string that names a parameter, variable or loop item is read as that name. Resource properties, and
functions the tests do not need, evaluate to an `Opaque` value; a resource's `name` is its evaluated name.

Modules are followed: `module(name)` evaluates a module's template with the parameters its caller passes (each
with every value the caller's expression can take), `mod.outputs.x` evaluates the module's output, and
`owner(resource)` finds the template, main.bicep or a module it deploys, that declares a resource.
"""

from __future__ import annotations

import functools
import itertools
import json
import re
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pycep

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
MAIN = INFRA / "main.bicep"
_ABSENT = object()  # a loop item whose condition is false
# What `render_ids` evaluates subscription() and resourceGroup() to: any fixed values do, since a redeploy of the
# same parameters into the same resource group sees the same ones.
SUBSCRIPTION_ID = "/subscriptions/00000000-0000-0000-0000-000000000001"
RESOURCE_GROUP = "rg-jobmonitor"
_GUID_NAMESPACE = uuid.UUID("6ba7b811-9dad-11d1-80b4-00c04fd430c8")
MAX_VALUES = 4096  # a guard against combinatorial blow-up, far above what the template needs

_INTERPOLATION = re.compile(r"\$\{([^{}]*)\}")
_DOTTED = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


@dataclass(frozen=True)
class Opaque:
    """A value the tests cannot know (a resource's runtime property, an unsupported function)."""

    what: str

    def __str__(self) -> str:
        return f"<{self.what}>"


@functools.cache
def parse(path: Path = MAIN) -> dict[str, Any]:
    tree: dict[str, Any] = dict(pycep.BicepParser().parse(text=path.read_text(encoding="utf-8")))
    # pycep leaves out a section the file has none of (main.bicep declares no resource of its own, the
    # app-settings module none at all): every section is there, empty if need be.
    for section in ("parameters", "variables", "resources", "modules", "outputs"):
        tree.setdefault(section, {})
    return tree


def _key(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _unique(values: list[Any]) -> list[Any]:
    seen: dict[str, Any] = {}
    for value in values:
        seen.setdefault(_key(value), value)
    assert len(seen) <= MAX_VALUES, "too many possible values: simplify the template or the test"
    return list(seen.values())


class Evaluator:
    """Evaluates one template's expressions for given parameter values (the others take their defaults)."""

    def __init__(self, params: Mapping[str, Any] | None = None, *, path: Path = MAIN, render_ids: bool = False,
                 caller: tuple[Evaluator, Mapping[str, Any]] | None = None) -> None:
        """`render_ids`: resource ids, subscription() and resourceGroup() evaluate to fixed strings (so that names
        built with guid() can be rendered); otherwise they stay unknown. `caller`: for a module, the caller's
        Evaluator and the expressions it passes as parameters, evaluated there when first read (each with every
        value it can take)."""
        self.path = path
        self.render_ids = render_ids
        self.tree = parse(path)
        self.params = dict(params or {})
        self._caller: Evaluator | None = caller[0] if caller is not None else None
        self._passed: Mapping[str, Any] = caller[1] if caller is not None else {}
        unknown = (set(self.params) | set(self._passed)) - set(self.tree["parameters"])
        assert not unknown, f"{path.name} declares no parameter {sorted(unknown)}"
        self._cache: dict[str, list[Any]] = {}
        self._modules: dict[str, Evaluator] = {}

    # -- names ------------------------------------------------------------------------------------------------
    def name(self, name: str, scope: Mapping[str, Any]) -> list[Any]:
        if name in scope:
            return [scope[name]]
        if name in self._cache:
            return self._cache[name]
        if name in self.tree["parameters"]:
            if name in self.params:
                values = [self.params[name]]
            elif name in self._passed and self._caller is not None:
                values = self._caller.possible(self._passed[name])
            else:
                default = self.tree["parameters"][name].get("default")
                assert default is not None, f"parameter {name} has no default: give it to the Evaluator"
                values = self.possible(default)
        elif name in self.tree.get("variables", {}):
            values = self.possible(self.tree["variables"][name]["value"])
        elif name in self.tree.get("resources", {}) or name in self.tree.get("modules", {}):
            values = [Opaque(name)]
        else:
            raise KeyError(name)
        self._cache[name] = values
        return values

    def is_name(self, text: str, scope: Mapping[str, Any]) -> bool:
        return text in scope or any(text in self.tree.get(part, {}) for part in ("parameters", "variables",
                                                                                  "resources", "modules"))

    def value(self, expr: Any, scope: Mapping[str, Any] | None = None) -> Any:
        """The single value of `expr`; fails if it can take several."""
        values = self.possible(expr, scope)
        assert len(values) == 1, f"expected one value, got {len(values)}: {values[:3]}"
        return values[0]

    def var(self, name: str) -> Any:
        return self.value(name)

    # -- expressions ------------------------------------------------------------------------------------------
    def possible(self, expr: Any, scope: Mapping[str, Any] | None = None) -> list[Any]:
        scope = scope or {}
        if expr is None or isinstance(expr, bool | int | float):
            return [expr]
        if isinstance(expr, str):
            if self.is_name(expr, scope):
                return self.name(expr, scope)
            return self._string(expr, scope)
        if isinstance(expr, list):
            return _unique([list(combo) for combo in self._product([self.possible(e, scope) for e in expr])])
        assert isinstance(expr, dict)
        if set(expr) == {"operator"}:
            return self._operator(expr["operator"], scope)
        if set(expr) == {"function"}:
            return self._function(expr["function"], scope)
        if "loop_type" in expr:
            return self._loop(expr, scope)
        keys = list(expr)
        values = self._product([self.possible(expr[k], scope) for k in keys])
        return _unique([{self._key_name(k, scope): v for k, v in zip(keys, combo, strict=True)} for combo in values])

    def _key_name(self, key: str, scope: Mapping[str, Any]) -> str:
        if key.startswith("'") and key.endswith("'"):
            return str(self._string(key[1:-1], scope)[0])
        return key

    def _string(self, text: str, scope: Mapping[str, Any]) -> list[Any]:
        holes = list(_INTERPOLATION.finditer(text))
        if not holes:
            return [text]
        options = []
        for hole in holes:
            inner = hole.group(1).strip()
            options.append(self._path(inner, scope) if _DOTTED.match(inner) else [Opaque(inner)])
        results = []
        for combo in self._product(options):
            out, last = [], 0
            for hole, value in zip(holes, combo, strict=True):
                out += [text[last:hole.start()], str(value)]
                last = hole.end()
            results.append("".join(out) + text[last:])
        return _unique(results)

    def _path(self, dotted: str, scope: Mapping[str, Any]) -> list[Any]:
        first, *rest = dotted.split(".")
        rendered = self._rendered_id(first, rest[0], scope) if self.render_ids and rest else None
        followed = self._followed(first, rest, scope)
        if rendered is not None:
            values, rest = rendered, rest[1:]
        elif followed is not None:
            values, rest = followed
        else:
            values = self.name(first, scope) if self.is_name(first, scope) else [Opaque(first)]
        for attribute in rest:
            values = [self._attribute(v, attribute) for v in values]
        return _unique(values)

    @staticmethod
    def _attribute(value: Any, attribute: str) -> Any:
        if isinstance(value, dict):
            assert attribute in value, f"no property {attribute} in {value}"
            return value[attribute]
        return Opaque(f"{value}.{attribute}")

    def _accessor(self, operands: Mapping[str, Any], scope: Mapping[str, Any]) -> list[Any]:
        # a.b.c arrives as accessor(a, accessor(b, c)): walk the chain of names.
        chain = []
        node: Any = operands
        while True:
            chain.append(node["operand_1"])
            nxt = node["operand_2"]
            if isinstance(nxt, dict) and set(nxt) == {"operator"} and nxt["operator"]["type"] == "property_accessor":
                node = nxt["operator"]["operands"]
                continue
            chain.append(nxt)
            break
        base = chain[0]
        rendered = self._rendered_id(base, chain[1], scope) if self.render_ids else None
        followed = self._followed(base, chain[1:], scope)
        if rendered is not None:
            values, chain = rendered, chain[1:]
        elif followed is not None:
            values, rest = followed
            chain = [base, *rest]
        else:
            values = self.name(base, scope) if isinstance(base, str) and self.is_name(base, scope) else \
                self.possible(base, scope)
        for attribute in chain[1:]:
            assert isinstance(attribute, str), f"unsupported property access {attribute}"
            values = [self._attribute(v, attribute) for v in values]
        return _unique(values)

    def _operator(self, op: Mapping[str, Any], scope: Mapping[str, Any]) -> list[Any]:
        kind, operands = op["type"], op["operands"]
        if kind == "property_accessor":
            return self._accessor(operands, scope)
        if kind == "conditional":
            results: list[Any] = []
            for condition in self.possible(operands["condition"], scope):
                assert isinstance(condition, bool | Opaque), (
                    f"a condition evaluated to {condition!r}: pycep probably misread operator precedence; "
                    "parenthesize the condition in the template")
                if condition is not False:
                    results += self.possible(operands["true_value"], scope)
                if condition is not True:
                    results += self.possible(operands["false_value"], scope)
            return _unique(results)
        if kind == "not":
            return _unique([v if isinstance(v, Opaque) else not v
                            for v in self.possible(operands["bool_value"], scope)])
        binary: dict[str, Callable[[Any, Any], Any]] = {
            "equals": lambda a, b: a == b,
            "not_equals": lambda a, b: a != b,
            "and": lambda a, b: a and b,
            "or": lambda a, b: a or b,
            "add": lambda a, b: a + b,
            "minus": lambda a, b: a - b,
            "multiply": lambda a, b: a * b,
            "less_than_or_equals": lambda a, b: a <= b,
            "less_than": lambda a, b: a < b,
            "greater_than_or_equals": lambda a, b: a >= b,
            "greater_than": lambda a, b: a > b,
        }
        if kind in binary:
            left = self.possible(operands["operand_1"], scope)
            right = self.possible(operands["operand_2"], scope)
            out: list[Any] = []
            for a, b in itertools.product(left, right):
                if isinstance(a, Opaque) or isinstance(b, Opaque):
                    # An unknown in a comparison may go either way.
                    out += [True, False] if kind in ("equals", "not_equals") or "than" in kind else [Opaque(kind)]
                else:
                    out.append(binary[kind](a, b))
            return _unique(out)
        if kind == "index_accessor":
            out = []
            for base, index in itertools.product(self.possible(operands["operand_1"], scope),
                                                 self.possible(operands["operand_2"], scope)):
                known = isinstance(base, list | dict) and not isinstance(index, Opaque)
                out.append(base[index] if known else Opaque("index"))
            return _unique(out)
        raise AssertionError(f"operator {kind} is not supported by tests/infra/bicep.py")

    def _function(self, fn: Mapping[str, Any], scope: Mapping[str, Any]) -> list[Any]:
        kind = fn["type"]
        params = fn.get("parameters") or {}
        names = [k for k, v in params.items() if v is not None]
        impl = _FUNCTIONS.get(kind) or (_RENDERED.get(kind) if self.render_ids else None)
        if impl is None:
            results: list[Any] = [Opaque(kind)]
        else:
            combos = self._product([self.possible(params[n], scope) for n in names])
            results = []
            for combo in combos:
                args = dict(zip(names, combo, strict=True))
                if any(isinstance(a, Opaque) for a in combo) and kind not in ("concat", "union", "string"):
                    results.append(Opaque(kind))
                else:
                    results.append(impl(self, args))
        if "property_name" in fn:
            results = [self._attribute(r, fn["property_name"]) for r in results]
        return _unique(results)

    def _loop(self, expr: Mapping[str, Any], scope: Mapping[str, Any]) -> list[Any]:
        detail = expr["loop_type"]["detail"]
        assert expr["loop_type"]["type"] in ("array", "array_index"), "only `for x in array` loops are supported"
        results = []
        for array in self.possible(detail["array_name"], scope):
            assert isinstance(array, list), f"loop over {array!r}"
            per_item = []
            for position, item in enumerate(array):
                inner = {**scope, detail["item_name"]: item}
                if "index_name" in detail:
                    inner[detail["index_name"]] = position
                conditions = [True] if expr.get("condition") is None else self.possible(expr["condition"], inner)
                options: list[Any] = []
                if any(c is not False for c in conditions):
                    options += self.possible(expr["config"], inner)
                if any(c is not True for c in conditions):
                    options.append(_ABSENT)
                per_item.append(options)
            for combo in self._product(per_item):
                results.append([v for v in combo if v is not _ABSENT])
        return _unique(results)

    @staticmethod
    def _product(options: list[list[Any]]) -> Iterator[tuple[Any, ...]]:
        total = 1
        for o in options:
            total *= max(1, len(o))
        assert total <= MAX_VALUES, "too many combinations: simplify the template or the test"
        return itertools.product(*options)

    # -- resources and modules --------------------------------------------------------------------------------
    def _followed(self, base: Any, rest: list[Any], scope: Mapping[str, Any]) -> tuple[list[Any], list[Any]] | None:
        """`res.name` (a resource's evaluated name) or `mod.outputs.x` (the module's output), with what is left of
        the chain; None for anything else."""
        if not isinstance(base, str) or base in scope or not rest:
            return None
        resource = self.tree["resources"].get(base)
        if resource is not None and rest[0] == "name" and "loop_type" not in resource["config"]:
            return self.possible(body(resource)["name"]), rest[1:]
        module = self.tree.get("modules", {}).get(base)
        if module is not None and rest[0] == "outputs" and len(rest) > 1 and "loop_type" not in module["config"]:
            inner = self.module(base)
            return inner.possible(inner.tree["outputs"][rest[1]]["value"]), rest[2:]
        return None

    def module(self, name: str) -> Evaluator:
        """The Evaluator of module `name` (not a loop), with every value this template can pass each parameter
        (whether its condition holds is the caller's to check)."""
        if name not in self._modules:
            declared = self.tree["modules"][name]
            assert "loop_type" not in declared["config"], f"module {name} is a loop: not supported"
            self._modules[name] = Evaluator(path=self.path.parent / declared["detail"]["path"],
                                            render_ids=self.render_ids, caller=(self, body(declared)["params"]))
        return self._modules[name]

    def owner(self, resource: str) -> Evaluator:
        """The Evaluator of the template declaring `resource`: this one, or a module it deploys (at any depth)."""
        if resource in self.tree["resources"]:
            return self
        for name, declared in self.tree.get("modules", {}).items():
            if declared["type"] != "local" or "loop_type" in declared["config"]:
                continue
            if resource in parse(self.path.parent / declared["detail"]["path"])["resources"]:
                return self.module(name).owner(resource)
        raise KeyError(f"no template deployed by {self.path.name} declares resource {resource}")

    def _rendered_id(self, base: Any, attribute: Any, scope: Mapping[str, Any]) -> list[Any] | None:
        """`base.id` for a resource of this template (`res.id` or `res[i].id`); None for anything else."""
        if attribute != "id":
            return None
        if isinstance(base, str) and base in self.tree["resources"] and base not in scope:
            return self.resource_id(base)
        if isinstance(base, dict) and set(base) == {"operator"} and base["operator"]["type"] == "index_accessor":
            operands = base["operator"]["operands"]
            name = operands["operand_1"]
            if isinstance(name, str) and name in self.tree["resources"]:
                return _unique([i for index in self.possible(operands["operand_2"], scope)
                                for i in self.resource_id(name, index)])
        return None

    def resource_id(self, name: str, index: Any = None) -> list[Any]:
        """The ids resource `name` (item `index` of a loop) can have: its type and evaluated name under its parent."""
        resource = self.resource(name)
        config = resource["config"]
        scopes: list[dict[str, Any]] = [{}]
        if "loop_type" in config:
            detail = config["loop_type"]["detail"]
            scopes = []
            for array in self.possible(detail["array_name"]):
                if not isinstance(array, list) or not isinstance(index, int):
                    return [Opaque(f"{name}.id")]
                item = {detail["item_name"]: array[index]}
                if "index_name" in detail:
                    item[detail["index_name"]] = index
                scopes.append(item)
        inner = body(resource)
        parent = inner.get("parent")
        parents = self.resource_id(parent) if isinstance(parent, str) else \
            [f"{SUBSCRIPTION_ID}/resourceGroups/{RESOURCE_GROUP}/providers/{resource['type'].rsplit('/', 1)[0]}"]
        ids = []
        for item in scopes:
            for parent_id, own in itertools.product(parents, self.possible(inner["name"], item)):
                ids.append(f"{parent_id}/{resource['type'].rsplit('/', 1)[-1]}/{own}")
        return _unique(ids)

    def resource(self, name: str) -> dict[str, Any]:
        resource = self.tree["resources"][name]
        assert isinstance(resource, dict)
        return resource


def _concat(_: Evaluator, args: Mapping[str, Any]) -> Any:
    values = list(args.values())
    if all(isinstance(v, list) for v in values):
        return [x for v in values for x in v]
    return "".join(str(v) for v in values)


def _union(_: Evaluator, args: Mapping[str, Any]) -> Any:
    values = list(args.values())
    if values and all(isinstance(v, list) for v in values):  # arrays: every item once, in order
        return _unique([x for v in values for x in v])
    merged: dict[str, Any] = {}
    for value in args.values():
        if isinstance(value, Opaque):
            return Opaque("union")
        merged.update(value)
    return merged


def _guid(_: Evaluator, args: Mapping[str, Any]) -> str:
    # Deterministic in its arguments, as ARM's guid() is (not ARM's own hash: the tests compare renders only).
    return str(uuid.uuid5(_GUID_NAMESPACE, "\n".join(str(v) for v in args.values())))


def _flatten(_: Evaluator, args: Mapping[str, Any]) -> list[Any]:
    return [x for inner in args["array_to_flattern"] for x in inner]


def _load_text(ev: Evaluator, args: Mapping[str, Any]) -> str:
    path: Path = ev.path.parent / str(args["file_path"])
    return path.read_text(encoding="utf-8")


def _string(_: Evaluator, args: Mapping[str, Any]) -> str:
    value: Any = args["value_to_convert"]
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


_FUNCTIONS: dict[str, Callable[[Evaluator, Mapping[str, Any]], Any]] = {
    "concat": _concat,
    "union": _union,
    "empty": lambda _, a: len(a["item_to_test"]) == 0,
    "join": lambda _, a: a["delimiter"].join(a["input_array"]),
    "split": lambda _, a: a["input_string"].split(a["delimiter"]),
    "replace": lambda _, a: a["original_string"].replace(a["old_string"], a["new_string"]),
    "string": _string,
    "contains": lambda _, a: a["item_to_find"] in a["container"],
    "take": lambda _, a: a["original_value"][: a["number_to_take"]],
    "to_lower": lambda _, a: a["string_to_change"].lower(),
    "load_text_content": _load_text,
    "guid": _guid,
    "flatten": _flatten,
}


# Only with render_ids: the deployment's own scope, as fixed strings.
def _resource_group(_: Evaluator, args: Mapping[str, Any]) -> dict[str, str]:
    name = args.get("resource_group_name") or RESOURCE_GROUP
    return {"id": f"{SUBSCRIPTION_ID}/resourceGroups/{name}", "name": name}


_RENDERED: dict[str, Callable[[Evaluator, Mapping[str, Any]], Any]] = {
    "subscription": lambda _, a: {"id": SUBSCRIPTION_ID, "subscriptionId": SUBSCRIPTION_ID.rsplit("/", 1)[-1]},
    "resource_group": _resource_group,
}


def module_evaluator(module: str, params: Mapping[str, Any] | None = None, **options: Any) -> Evaluator:
    """An Evaluator of main.bicep's module `module`, with the parameters main.bicep passes it when deployed with
    `params` (a value main cannot know stays unknown in the module too)."""
    return Evaluator(params, **options).module(module)


def body(resource: Mapping[str, Any]) -> dict[str, Any]:
    """A resource's or module's properties, under its loop or condition if it has one."""
    config = resource["config"]
    inner = config["config"] if "loop_type" in config or "condition" in config else config
    assert isinstance(inner, dict)
    return inner


def references(expr: Any) -> set[str]:
    """Every bare string (name or literal) inside an expression tree: what it can refer to."""
    found: set[str] = set()
    if isinstance(expr, str):
        found.add(expr)
        found.update(h.strip().split(".")[0] for h in _INTERPOLATION.findall(expr))
    elif isinstance(expr, list):
        for item in expr:
            found |= references(item)
    elif isinstance(expr, dict):
        for item in expr.values():
            found |= references(item)
    return found


def template_files() -> list[Path]:
    return sorted(INFRA.rglob("*.bicep"))
