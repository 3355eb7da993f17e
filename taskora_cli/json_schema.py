"""Check a JSON value against a JSON Schema, for processes that hold only a task's published
schema (``taskora dispatch``, producers on other hosts), not its pydantic model or msgspec
Struct.

It covers what pydantic v2 and msgspec emit (draft 2020-12): ``type`` (one or a list),
``properties`` / ``required`` / ``additionalProperties`` / ``patternProperties``, ``items`` /
``prefixItems``, ``enum`` / ``const``, the numeric and length bounds, ``pattern``,
``anyOf`` / ``oneOf`` / ``allOf`` / ``not``, and ``$ref`` into ``#/$defs/...`` or
``#/definitions/...``. Annotations (``title``, ``default``, ``format``, ``examples``,
``discriminator``, ...), ``uniqueItems`` (the libraries write it for sets but accept
repeats) and any keyword it does not know are ignored: a schema from a newer writer still
checks what this one understands.

Standard library only, so the CLI imports it without paying for a validator package. Every
problem found is reported (not just the first), each as an :class:`~taskora_cli.errors.Issue`
with a dotted path ("items.0.qty") and a message a shell user can act on.
"""

from __future__ import annotations

import fractions
import functools
import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .errors import Issue, UsageError

Schema = Mapping[str, Any] | bool

_TYPE_NAMES = {
    "object": "an object",
    "array": "an array",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "null": "null",
}


def json_schema_issues(instance: Any, schema: Schema) -> list[Issue]:
    """Every way ``instance`` (a value as ``json.loads`` returns it) breaks ``schema``.

    Args:
        instance: the value to check: dicts, lists (or tuples), strings, numbers, bools, None.
        schema: a JSON Schema as a dict (the root of any ``$ref``), or True / False.

    Returns:
        The issues, in the order of the value's fields; empty when the value is valid. Data
        nested too deeply to walk (well over a hundred levels) is one issue saying so.

    Raises:
        UsageError: the schema itself is broken (a ``$ref`` it does not define, a ``pattern``
            that is not a regular expression), so no value could be checked against it.
    """
    try:
        return _Checker(schema).check(instance, schema, "")
    except RecursionError:  # each level of a recursive model costs several frames (~140 deep)
        return [Issue("", "is nested too deeply to check against the schema here")]


def describe_value(value: Any) -> str:
    """A short phrase naming a JSON value for messages: 'the string "abc"', 'null', '3.5'."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"the string {_quote(shown)}"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, (list, tuple)):
        return "an array"
    return f"a {type(value).__name__}"


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _join(path: str, key: str | int) -> str:
    return f"{path}.{key}" if path else str(key)


def _is_type(value: Any, name: str) -> bool:
    if name == "object":
        return isinstance(value, Mapping)
    if name == "array":
        return isinstance(value, (list, tuple))
    if name == "string":
        return isinstance(value, str)
    if name == "boolean":
        return isinstance(value, bool)
    if name == "null":
        return value is None
    if isinstance(value, bool):  # True is an int to Python, never a number to JSON
        return False
    if name == "integer":
        # Strict, as the task's own check will be: msgspec and the dataclass checker refuse
        # 1.0 for an int (json.loads gives a float for "1.0"; pydantic would take it)
        return isinstance(value, int)
    if name == "number":
        return isinstance(value, (int, float))
    return True  # an unknown type name: ignored, like any unknown keyword


def _json_equal(a: Any, b: Any) -> bool:
    """Equality as JSON sees it: true is not 1, 1 is 1.0, containers compare deeply."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a is b
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(_json_equal(a[key], b[key]) for key in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, (list, tuple, Mapping)) or isinstance(b, (list, tuple, Mapping)):
        return False
    return bool(a == b)


def _shown(value: Any) -> str:
    """An allowed value as a user would type it in JSON."""
    if isinstance(value, str):
        return _quote(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


def _schema_types(schema: Schema, resolve: Callable[[str], Schema]) -> list[str]:
    """The JSON types a schema admits at its top level, if it says (for union messages)."""
    if not isinstance(schema, Mapping):
        return []
    if isinstance(schema.get("$ref"), str) and "type" not in schema:
        return _schema_types(resolve(schema["$ref"]), lambda ref: {})
    declared = schema.get("type")
    if isinstance(declared, str):
        return [declared]
    if isinstance(declared, list):
        return [name for name in declared if isinstance(name, str)]
    if "const" in schema:
        return [f"the value {_shown(schema['const'])}"]
    if "properties" in schema:
        return ["object"]
    return []


class _Checker:
    """One validation run: holds the root (for ``$ref``) and the refs being expanded."""

    def __init__(self, root: Schema) -> None:
        self.root = root
        self._expanding: set[tuple[str, int, str]] = set()

    def resolve(self, ref: str) -> Schema:
        if not ref.startswith("#"):
            raise UsageError(
                f"the schema refers to {ref!r}: only references inside it (#/$defs/...) work"
            )
        node: Any = self.root
        for raw in ref[1:].lstrip("/").split("/") if ref not in ("#", "#/") else []:
            part = raw.replace("~1", "/").replace("~0", "~")
            if isinstance(node, Mapping) and part in node:
                node = node[part]
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                raise UsageError(f"the schema refers to {ref!r}, which it does not define")
        if not isinstance(node, (Mapping, bool)):
            raise UsageError(f"the schema's {ref!r} is not a schema")
        return node

    def check(self, value: Any, schema: Schema, path: str) -> list[Issue]:
        if schema is True:
            return []
        if schema is False:
            return [Issue(path, "no value is allowed here")]
        if not isinstance(schema, Mapping):
            return []
        issues: list[Issue] = []
        ref = schema.get("$ref")
        if isinstance(ref, str):
            issues += self._check_ref(value, ref, path)
        types = schema.get("type")
        if types is not None:
            wanted = [types] if isinstance(types, str) else list(types)
            if not any(_is_type(value, name) for name in wanted):
                # a wrong type makes every other keyword's complaint noise, but the allowed
                # values (an Enum, a Literal) say more than the type alone
                allowed = _check_allowed(value, schema, path)
                return [*issues, *(allowed or [Issue(path, _type_message(wanted, value))])]
        issues += _check_allowed(value, schema, path)
        if isinstance(value, str):
            issues += self._check_string(value, schema, path)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            issues += _check_number(value, schema, path)
        elif isinstance(value, Mapping):
            issues += self._check_object(value, schema, path)
        elif isinstance(value, (list, tuple)):
            issues += self._check_array(value, schema, path)
        issues += self._check_combinators(value, schema, path)
        return issues

    def _check_ref(self, value: Any, ref: str, path: str) -> list[Issue]:
        # A recursive model meets the same ref again only one level down the value; the same
        # ref at the same value and path would loop (a schema like {"$ref": "#"}).
        marker = (ref, id(value), path)
        if marker in self._expanding:
            return []
        self._expanding.add(marker)
        try:
            return self.check(value, self.resolve(ref), path)
        finally:
            self._expanding.discard(marker)

    def _check_string(self, value: str, schema: Mapping[str, Any], path: str) -> list[Issue]:
        issues: list[Issue] = []
        low, high = schema.get("minLength"), schema.get("maxLength")
        if isinstance(low, int) and len(value) < low:
            issues.append(
                Issue(path, f"must be at least {low} character(s) long, got {len(value)}")
            )
        if isinstance(high, int) and len(value) > high:
            issues.append(
                Issue(path, f"must be at most {high} character(s) long, got {len(value)}")
            )
        pattern = schema.get("pattern")
        if isinstance(pattern, str) and _search(pattern, value) is None:
            issues.append(Issue(path, f"must match the pattern {pattern}; got {_quote(value)}"))
        return issues

    def _check_object(
        self, value: Mapping[str, Any], schema: Mapping[str, Any], path: str
    ) -> list[Issue]:
        issues: list[Issue] = []
        properties = schema.get("properties")
        properties = properties if isinstance(properties, Mapping) else {}
        required = schema.get("required")
        if isinstance(required, list):
            issues += [
                Issue(_join(path, name), "is required but missing")
                for name in required
                if name not in value
            ]
        patterns = schema.get("patternProperties")
        patterns = patterns if isinstance(patterns, Mapping) else {}
        extra = schema.get("additionalProperties", True)
        unexpected: list[str] = []
        for key, item in value.items():
            where = _join(path, key)
            matched = key in properties
            if matched:
                issues += self.check(item, properties[key], where)
            for pattern, sub in patterns.items():
                if _search(pattern, str(key)):
                    matched = True
                    issues += self.check(item, sub, where)
            if matched:
                continue
            if extra is False:
                unexpected.append(key)
            elif isinstance(extra, Mapping):
                issues += self.check(item, extra, where)
        for key in unexpected:
            known = ", ".join(sorted(properties)) or "none"
            issues.append(Issue(_join(path, key), f"is not an allowed field (allowed: {known})"))
        low, high = schema.get("minProperties"), schema.get("maxProperties")
        if isinstance(low, int) and len(value) < low:
            issues.append(Issue(path, f"must have at least {low} field(s), got {len(value)}"))
        if isinstance(high, int) and len(value) > high:
            issues.append(Issue(path, f"must have at most {high} field(s), got {len(value)}"))
        return issues

    def _check_array(
        self, value: Sequence[Any], schema: Mapping[str, Any], path: str
    ) -> list[Issue]:
        issues: list[Issue] = []
        low, high = schema.get("minItems"), schema.get("maxItems")
        if isinstance(low, int) and len(value) < low:
            issues.append(Issue(path, f"must have at least {low} item(s), got {len(value)}"))
        if isinstance(high, int) and len(value) > high:
            issues.append(Issue(path, f"must have at most {high} item(s), got {len(value)}"))
        prefix = schema.get("prefixItems")
        rest = schema.get("items")
        if isinstance(rest, list):  # the draft-07 spelling of a tuple (pydantic v1)
            prefix, rest = rest, schema.get("additionalItems")
        prefix = prefix if isinstance(prefix, list) else []
        for index, sub in enumerate(prefix[: len(value)]):
            issues += self.check(value[index], sub, _join(path, index))
        said = isinstance(high, int) and len(value) > high
        if rest is False and len(value) > len(prefix) and not said:
            issues.append(Issue(path, f"must have at most {len(prefix)} item(s), got {len(value)}"))
        elif isinstance(rest, Mapping):
            for index in range(len(prefix), len(value)):
                issues += self.check(value[index], rest, _join(path, index))
        # uniqueItems is ignored, like format: pydantic, msgspec and the dataclass checker
        # write it for set[...] fields yet accept repeats (they build a set), so enforcing it
        # would refuse data the task itself takes.
        return issues

    def _check_combinators(self, value: Any, schema: Mapping[str, Any], path: str) -> list[Issue]:
        issues: list[Issue] = []
        for sub in schema.get("allOf") or ():
            issues += self.check(value, sub, path)
        any_of = schema.get("anyOf")
        if isinstance(any_of, list) and any_of:
            results = [self.check(value, sub, path) for sub in any_of]
            if all(results):
                issues += _union_issues(value, any_of, results, path, self.resolve)
        one_of = schema.get("oneOf")
        if isinstance(one_of, list) and one_of:
            results = [self.check(value, sub, path) for sub in one_of]
            passed = sum(1 for found in results if not found)
            if passed == 0:
                issues += _union_issues(value, one_of, results, path, self.resolve)
            elif passed > 1:
                issues.append(
                    Issue(
                        path, f"matches {passed} of the allowed shapes; it must match exactly one"
                    )
                )
        negated = schema.get("not")
        if isinstance(negated, (Mapping, bool)) and not self.check(value, negated, path):
            issues.append(Issue(path, f"{describe_value(value)} is not allowed here"))
        return issues


def _check_allowed(value: Any, schema: Mapping[str, Any], path: str) -> list[Issue]:
    """``const`` and ``enum``."""
    issues: list[Issue] = []
    if "const" in schema and not _json_equal(value, schema["const"]):
        issues.append(
            Issue(path, f"must be {_shown(schema['const'])}, got {describe_value(value)}")
        )
    enum = schema.get("enum")
    if isinstance(enum, list) and not any(_json_equal(value, item) for item in enum):
        allowed = ", ".join(_shown(item) for item in enum)
        issues.append(Issue(path, f"must be one of {allowed}; got {describe_value(value)}"))
    return issues


_BOUNDS = (
    ("minimum", ">="),
    ("maximum", "<="),
    ("exclusiveMinimum", ">"),
    ("exclusiveMaximum", "<"),
)


def _check_number(value: float, schema: Mapping[str, Any], path: str) -> list[Issue]:
    issues: list[Issue] = []
    for keyword, sign in _BOUNDS:
        bound = schema.get(keyword)
        if isinstance(bound, (int, float)) and not isinstance(bound, bool):
            holds = {
                ">=": value >= bound,
                "<=": value <= bound,
                ">": value > bound,
                "<": value < bound,
            }[sign]
            if not holds:
                issues.append(Issue(path, f"must be {sign} {bound}, got {value!r}"))
    step = schema.get("multipleOf")
    if (
        isinstance(step, (int, float))
        and not isinstance(step, bool)
        and step > 0
        and not _is_multiple(value, step)
    ):
        issues.append(Issue(path, f"must be a multiple of {step}, got {value!r}"))
    return issues


def _is_multiple(value: float, step: float) -> bool:
    if isinstance(value, int) and (isinstance(step, int) or step.is_integer()):
        return value % int(step) == 0  # exact: float division loses digits past 2**53
    try:
        quotient = value / step
    except OverflowError:  # an int too large for a float: exact, in the step's binary value
        return (fractions.Fraction(value) / fractions.Fraction(step)).denominator == 1
    if not math.isfinite(quotient):
        return False
    # floats: 0.3 is not exactly 3 * 0.1 in binary, so "a multiple" allows rounding noise
    return math.isclose(quotient, round(quotient), rel_tol=0, abs_tol=1e-9)


def _search(pattern: str, text: str) -> re.Match[str] | None:
    try:
        return _compiled(pattern).search(text)
    except re.error as exc:
        raise UsageError(f"the schema's pattern {pattern!r} is invalid: {exc}") from None


@functools.lru_cache(maxsize=512)
def _compiled(pattern: str) -> re.Pattern[str]:
    """``pattern`` with JSON Schema's (ECMA-262's, Rust's for pydantic) meaning of ``$``:
    the end of the text. Python's ``$`` also matches before a final newline, which would let
    "AB\\n" through ``^[A-Z]+$``; an unescaped ``$`` outside a character class becomes ``\\Z``.
    """
    out: list[str] = []
    index, in_class = 0, False
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            out.append(pattern[index : index + 2])
            index += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
            out.append(char)
            index += 1
            # a "]" first in the class (after an optional "^") is a literal, not its end
            if pattern[index : index + 1] == "^":
                out.append("^")
                index += 1
            if pattern[index : index + 1] == "]":
                out.append("]")
                index += 1
            continue
        elif char == "$":
            char = r"\Z"
        out.append(char)
        index += 1
    return re.compile("".join(out))


def _type_message(wanted: list[str], value: Any) -> str:
    names = [_TYPE_NAMES.get(name, name) for name in wanted]
    expected = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
    return f"expected {expected}, got {describe_value(value)}"


def _union_issues(
    value: Any,
    branches: list[Schema],
    results: list[list[Issue]],
    path: str,
    resolve: Callable[[str], Schema],
) -> list[Issue]:
    """What to tell the user when no branch of a union took the value.

    Optional[Model] is anyOf [Model, null]: when the value has the type of exactly one branch,
    that branch's own issues say far more than "matches none"; otherwise list the types the
    union allows."""
    typed = [
        index
        for index, branch in enumerate(branches)
        if (kinds := _schema_types(branch, resolve))
        and any(_is_type(value, kind) for kind in kinds if kind in _TYPE_NAMES)
    ]
    if len(typed) == 1:
        return results[typed[0]]
    kinds = [kind for branch in branches for kind in _schema_types(branch, resolve)]
    if kinds and len(kinds) == len(branches):
        names = [_TYPE_NAMES.get(kind, kind) for kind in dict.fromkeys(kinds)]
        expected = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
        if not typed:
            return [Issue(path, f"expected {expected}, got {describe_value(value)}")]
    # several branches of the value's type all failed: the closest one's issues help most
    return min(results, key=len)
