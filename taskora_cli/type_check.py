"""A small strict checker for dataclasses and TypedDicts: the schemas that need no pydantic.

A type hint is compiled once into a check function; checking a value then walks only that
function tree, so a job pays for its fields, not for ``typing`` introspection. The rules
are JSON's, strictly: no string-to-number coercion, ``bool`` is not an ``int``, an ``int``
is accepted where a ``float`` is expected, lists stand in for tuples and sets.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import enum
import json
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NotRequired, Protocol, Required, get_args, get_origin

from .errors import Issue, UsageError

# A check returns the checked (converted) value, or INVALID after appending its issues.
Check = Callable[[Any, str, list[Issue]], Any]

INVALID: Any = object()

_SUPPORTED = (
    "str, int, float, bool, None, Any, list/tuple/set/dict of those, Literal, Enum, "
    "Optional/Union, a dataclass, a TypedDict, a pydantic model or a msgspec Struct"
)


class SchemaMismatch(Exception):
    """A value does not match its schema; ``issues`` lists every problem found."""

    def __init__(self, issues: list[Issue]) -> None:
        self.issues = list(issues)
        super().__init__("; ".join(str(issue) for issue in self.issues))


class Nested(Protocol):
    """A schema of another library (pydantic, msgspec) used as a field's type."""

    def validate(self, value: Any) -> Any: ...

    def json_schema(self) -> dict[str, Any] | None: ...


ForeignLookup = Callable[[type], Nested | None]


def join(path: str, key: object) -> str:
    """The dotted path of ``key`` inside ``path`` ("" is the value itself)."""
    return f"{path}.{key}" if path else str(key)


def label(tp: Any) -> str:
    """A short readable name of a type hint, for messages."""
    if tp is None or tp is type(None):
        return "None"
    if isinstance(tp, type) and not get_args(tp):
        return tp.__name__
    return repr(tp).replace("typing.", "")


def _got(value: Any) -> str:
    return type(value).__name__ if value is not None else "None"


def is_record_class(tp: Any) -> bool:
    """True for a dataclass or TypedDict class (the kinds checked here)."""
    return isinstance(tp, type) and (dataclasses.is_dataclass(tp) or typing.is_typeddict(tp))


def type_hints(cls: Any, *, extras: bool = False) -> dict[str, Any]:
    """``typing.get_type_hints`` that names the class when a string annotation can't resolve."""
    try:
        return typing.get_type_hints(cls, include_extras=extras)
    except (NameError, TypeError) as exc:
        raise UsageError(f"cannot resolve the annotations of {cls.__qualname__}: {exc}") from exc


def _pass(value: Any, path: str, issues: list[Issue]) -> Any:
    return value


def _scalar(tp: type) -> Check:
    def check(value: Any, path: str, issues: list[Issue]) -> Any:
        if type(value) is tp or (isinstance(value, tp) and not isinstance(value, bool)):
            return value
        issues.append(Issue(path, f"expected {tp.__name__}, got {_got(value)}"))
        return INVALID

    return check


def _check_bool(value: Any, path: str, issues: list[Issue]) -> Any:
    if value is True or value is False:
        return value
    issues.append(Issue(path, f"expected bool, got {_got(value)}"))
    return INVALID


def _check_float(value: Any, path: str, issues: list[Issue]) -> Any:
    if isinstance(value, float):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    issues.append(Issue(path, f"expected float, got {_got(value)}"))
    return INVALID


def _check_none(value: Any, path: str, issues: list[Issue]) -> Any:
    if value is None:
        return None
    issues.append(Issue(path, f"expected None, got {_got(value)}"))
    return INVALID


def _literal(choices: tuple[Any, ...]) -> Check:
    def check(value: Any, path: str, issues: list[Issue]) -> Any:
        for choice in choices:
            if value == choice and type(value) is type(choice):
                return choice
        issues.append(Issue(path, f"expected one of {list(choices)!r}, got {value!r}"))
        return INVALID

    return check


def _enum(cls: type[enum.Enum]) -> Check:
    values = [member.value for member in cls]

    def check(value: Any, path: str, issues: list[Issue]) -> Any:
        if isinstance(value, cls):
            return value
        if not isinstance(value, bool):
            try:
                return cls(value)
            except ValueError:
                pass
        issues.append(Issue(path, f"expected one of {values!r}, got {value!r}"))
        return INVALID

    return check


def _sequence(
    item: Check, build: Callable[[list[Any]], Any], accepts: tuple[type[Iterable[Any]], ...]
) -> Check:
    def check(value: Any, path: str, issues: list[Issue]) -> Any:
        if not isinstance(value, accepts):
            issues.append(Issue(path, f"expected a list, got {_got(value)}"))
            return INVALID
        out = [item(element, join(path, index), issues) for index, element in enumerate(value)]
        return INVALID if any(element is INVALID for element in out) else build(out)

    return check


def _fixed_tuple(items: list[Check]) -> Check:
    def check(value: Any, path: str, issues: list[Issue]) -> Any:
        if not isinstance(value, (list, tuple)):
            issues.append(Issue(path, f"expected a list, got {_got(value)}"))
            return INVALID
        if len(value) != len(items):
            issues.append(Issue(path, f"expected {len(items)} items, got {len(value)}"))
            return INVALID
        out = [
            c(element, join(path, i), issues)
            for i, (c, element) in enumerate(zip(items, value, strict=True))
        ]
        return INVALID if any(element is INVALID for element in out) else tuple(out)

    return check


def _mapping(key: Check, item: Check) -> Check:
    def check(value: Any, path: str, issues: list[Issue]) -> Any:
        if not isinstance(value, dict):
            issues.append(Issue(path, f"expected an object, got {_got(value)}"))
            return INVALID
        out = {}
        ok = True
        for k, v in value.items():
            where = join(path, k)
            checked_key = key(k, where, issues)
            checked = item(v, where, issues)
            ok = ok and checked_key is not INVALID and checked is not INVALID
            out[checked_key] = checked
        return out if ok else INVALID

    return check


def _json_key(key: Check) -> Check:
    """A key check that also takes the text JSON made of the key (``{1: x}`` arrives as
    ``{"1": x}``): the key as it is first, else the JSON value its text spells."""

    def check(value: Any, path: str, issues: list[Issue]) -> Any:
        scratch: list[Issue] = []
        out = key(value, path, scratch)
        if out is INVALID and isinstance(value, str):
            try:
                parsed = json.loads(value)
            except ValueError:
                pass
            else:
                out = key(parsed, path, [])
        if out is INVALID:
            issues.extend(scratch)
        return out

    return check


def _union(members: list[Any], checks: list[Check]) -> Check:
    optional = type(None) in members
    real = [c for m, c in zip(members, checks, strict=True) if m is not type(None)]
    expected = " | ".join(label(m) for m in members)

    def check(value: Any, path: str, issues: list[Issue]) -> Any:
        if value is None and optional:
            return None
        attempts: list[list[Issue]] = []
        for member in real:
            scratch: list[Issue] = []
            out = member(value, path, scratch)
            if out is not INVALID:
                return out
            attempts.append(scratch)
        if len(attempts) == 1:  # Optional[X]: X's own issues say more than "expected X | None"
            issues.extend(attempts[0])
        else:
            issues.append(Issue(path, f"expected {expected}, got {_got(value)}"))
        return INVALID

    return check


def _from_nested(nested: Nested) -> Check:
    def check(value: Any, path: str, issues: list[Issue]) -> Any:
        try:
            return nested.validate(value)
        except SchemaMismatch as exc:
            issues.extend(
                Issue(join(path, i.path) if i.path else path, i.message) for i in exc.issues
            )
            return INVALID

    return check


def _no_foreign(tp: type) -> Nested | None:
    return None


_LISTS = (list, collections.abc.Sequence, collections.abc.MutableSequence)
_SETS = (set, frozenset, collections.abc.Set, collections.abc.MutableSet)
_DICTS = (dict, collections.abc.Mapping, collections.abc.MutableMapping)
_BARE: dict[Any, Any] = {
    list: list[Any],
    tuple: tuple[Any, ...],
    set: set[Any],
    frozenset: frozenset[Any],
    dict: dict[Any, Any],
}
_SCALARS: dict[Any, Check] = {
    Any: _pass,
    object: _pass,
    None: _check_none,
    type(None): _check_none,
    str: _scalar(str),
    int: _scalar(int),
    bool: _check_bool,
    float: _check_float,
}


class TypeChecker:
    """Compiles type hints into check functions, each class once (recursive types work).

    Args:
        foreign: finds the schema of a class this module does not check itself (a pydantic
            model or msgspec Struct used as a field type), or None.
    """

    def __init__(self, foreign: ForeignLookup = _no_foreign) -> None:
        self._foreign = foreign
        self._classes: dict[type, Check] = {}

    def compile(self, tp: Any, where: str) -> Check:
        """The check function of type hint ``tp``; ``where`` names it in errors.

        Raises:
            UsageError: ``tp`` (or a type inside it) is not one this checker knows.
        """
        if tp in _SCALARS:
            return _SCALARS[tp]
        origin = get_origin(tp)
        if origin is not None:
            return self._generic(tp, origin, get_args(tp), where)
        if tp in _BARE:
            return self.compile(_BARE[tp], where)
        if isinstance(tp, typing.NewType):
            return self.compile(tp.__supertype__, where)
        if isinstance(tp, type):
            if issubclass(tp, enum.Enum):
                return _enum(tp)
            if is_record_class(tp):
                return self._record(tp)
            nested = self._foreign(tp)
            if nested is not None:
                return _from_nested(nested)
        raise UsageError(f"{where}: cannot check values of type {label(tp)}; use {_SUPPORTED}")

    def _generic(self, tp: Any, origin: Any, args: tuple[Any, ...], where: str) -> Check:
        if origin is typing.Annotated:
            return self.compile(args[0], where)
        if origin is typing.Literal:
            return _literal(args)
        if origin in (typing.Union, types.UnionType):
            return _union(list(args), [self.compile(a, where) for a in args])
        if origin in _LISTS:
            return _sequence(self.compile(args[0] if args else Any, where), list, (list, tuple))
        if origin is tuple:
            if len(args) == 2 and args[1] is Ellipsis:
                return _sequence(self.compile(args[0], where), tuple, (list, tuple))
            return _fixed_tuple([self.compile(a, where) for a in args])
        if origin in _SETS:
            build = frozenset if origin is frozenset else set
            item = self.compile(args[0] if args else Any, where)
            return _sequence(item, build, (list, tuple, set, frozenset))
        if origin in _DICTS:
            key, value = args if args else (Any, Any)
            key_check = self.compile(key, where)
            if key not in (str, Any, object):  # JSON keys are strings: "1" for an int key
                key_check = _json_key(key_check)
            return _mapping(key_check, self.compile(value, where))
        raise UsageError(f"{where}: cannot check values of type {label(tp)}; use {_SUPPORTED}")

    def _record(self, cls: type) -> Check:
        if cls in self._classes:
            return self._classes[cls]
        # A placeholder first, so a class that refers to itself compiles to a loop.
        compiled: list[Check] = []
        self._classes[cls] = lambda value, path, issues: compiled[0](value, path, issues)
        check = self._dataclass(cls) if dataclasses.is_dataclass(cls) else self._typeddict(cls)
        compiled.append(check)
        self._classes[cls] = check
        return check

    def _dataclass(self, cls: type) -> Check:
        hints = type_hints(cls)
        fields = [
            (
                f.name,
                self.compile(hints[f.name], f"{cls.__qualname__}.{f.name}"),
                f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING,
            )
            for f in dataclasses.fields(cls)
            if f.init
        ]
        names = {name for name, _, _ in fields}
        title = cls.__name__

        def check(value: Any, path: str, issues: list[Issue]) -> Any:
            if isinstance(value, cls):  # re-checked: a dataclass does not check its own fields
                value = {name: getattr(value, name) for name in names}
            elif not isinstance(value, dict):
                issues.append(Issue(path, f"expected an object ({title}), got {_got(value)}"))
                return INVALID
            kwargs = _check_fields(fields, value, path, issues)
            if kwargs is None:
                return INVALID
            try:
                return cls(**kwargs)
            except (TypeError, ValueError) as exc:  # __post_init__ checks
                issues.append(Issue(path, str(exc) or type(exc).__name__))
                return INVALID

        return check

    def _typeddict(self, cls: type) -> Check:
        fields = []
        for name, hint in type_hints(cls, extras=True).items():
            required = name in cls.__required_keys__  # type: ignore[attr-defined]
            # Checked here too: with string annotations Python 3.11 misreads (Not)Required.
            if get_origin(hint) in (Required, NotRequired):
                required = get_origin(hint) is Required
                hint = get_args(hint)[0]
            fields.append((name, self.compile(hint, f"{cls.__qualname__}.{name}"), required))
        title = cls.__name__

        def check(value: Any, path: str, issues: list[Issue]) -> Any:
            if not isinstance(value, dict):
                issues.append(Issue(path, f"expected an object ({title}), got {_got(value)}"))
                return INVALID
            checked = _check_fields(fields, value, path, issues)
            return INVALID if checked is None else checked

        return check


def _check_fields(
    fields: list[tuple[str, Check, bool]], value: dict[Any, Any], path: str, issues: list[Issue]
) -> dict[str, Any] | None:
    """Checks each field present, flags missing required and unknown ones; None if any failed."""
    out: dict[str, Any] = {}
    ok = True
    present = 0
    for name, check, required in fields:
        if name in value:
            present += 1
            checked = check(value[name], join(path, name), issues)
            if checked is INVALID:
                ok = False
            else:
                out[name] = checked
        elif required:
            issues.append(Issue(join(path, name), "field required"))
            ok = False
    if present != len(value):
        known = {name for name, _, _ in fields}
        for key in value:
            if key not in known:
                issues.append(Issue(join(path, key), "unknown field"))
        ok = False
    return out if ok else None


def json_schema_of(cls: type, foreign: ForeignLookup = _no_foreign) -> dict[str, Any]:
    """The JSON Schema of a dataclass or TypedDict, shaped like pydantic's.

    The class itself is inline; nested classes sit under ``$defs`` and are referenced.
    """
    writer = _JsonSchemaWriter(foreign)
    return inline_top({**writer.record(cls), "$defs": writer.defs})


def inline_top(document: dict[str, Any]) -> dict[str, Any]:
    """``{"$ref": "#/$defs/X", "$defs": ...}`` with X written inline, as pydantic writes it.

    Only when nothing refers to X, not even X itself: a recursive class keeps the ``$ref``
    form (pydantic's too), since inlining it would leave its inner ``$ref`` dangling.
    """
    ref = document.get("$ref")
    defs = dict(document.get("$defs") or {})
    name = ref.rsplit("/", 1)[-1] if isinstance(ref, str) else ""
    if not (isinstance(ref, str) and ref.startswith("#/$defs/") and name in defs):
        return document
    if f'"{ref}"' in json.dumps(defs):  # referred to from inside, maybe by itself
        return document
    top = dict(defs.pop(name))
    if defs:
        top["$defs"] = defs
    return top


_JSON_SCALARS: dict[Any, dict[str, Any]] = {
    Any: {},
    object: {},
    None: {"type": "null"},
    type(None): {"type": "null"},
    str: {"type": "string"},
    int: {"type": "integer"},
    bool: {"type": "boolean"},
    float: {"type": "number"},
}


class _JsonSchemaWriter:
    def __init__(self, foreign: ForeignLookup) -> None:
        self._foreign = foreign
        self.defs: dict[str, Any] = {}
        self._names: dict[type, str] = {}

    def of(self, tp: Any) -> dict[str, Any]:
        if tp in _JSON_SCALARS:
            return dict(_JSON_SCALARS[tp])
        origin, args = get_origin(tp), get_args(tp)
        if origin is not None:
            return self._generic(origin, args)
        if tp in (list, tuple, set, frozenset):
            return {"type": "array"}
        if tp is dict:
            return {"type": "object"}
        if isinstance(tp, typing.NewType):
            return self.of(tp.__supertype__)
        if isinstance(tp, type) and issubclass(tp, enum.Enum):
            return {"enum": [member.value for member in tp]}
        if is_record_class(tp):
            return self.record(tp)
        nested = self._foreign(tp) if isinstance(tp, type) else None
        return self._merged(dict((nested.json_schema() or {}) if nested else {}))

    def _merged(self, document: dict[str, Any]) -> dict[str, Any]:
        """A foreign schema's document with its ``$defs`` moved into ours, each one renamed
        (refs rewritten) when ours already holds a different definition of that name."""
        defs: dict[str, Any] = document.pop("$defs", None) or {}
        renames: dict[str, str] = {}
        for name, definition in defs.items():
            if name in self.defs and self.defs[name] != definition:
                renames[f"#/$defs/{name}"] = f"#/$defs/{self._free_name(name, defs)}"
        if renames:
            document, defs = _renamed_refs((document, defs), renames)
        for name, definition in defs.items():
            new_name = renames.get(f"#/$defs/{name}", name).rsplit("/", 1)[-1]
            self.defs[new_name] = definition
        return document

    def _free_name(
        self, base: str, also_taken: Mapping[str, Any] = types.MappingProxyType({})
    ) -> str:
        """``base``, or ``base_2``, ``base_3``...: the first name no definition has."""
        name, number = base, 1
        while name in self.defs or (name != base and name in also_taken):
            number += 1
            name = f"{base}_{number}"
        return name

    def _generic(self, origin: Any, args: tuple[Any, ...]) -> dict[str, Any]:
        if origin is typing.Annotated:
            return self.of(args[0])
        if origin is typing.Literal:
            return {"enum": list(args)}
        if origin in (typing.Union, types.UnionType):
            return {"anyOf": [self.of(a) for a in args]}
        if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
            items = [self.of(a) for a in args]
            return {
                "type": "array",
                "prefixItems": items,
                "minItems": len(items),
                "maxItems": len(items),
            }
        if origin in (*_LISTS, tuple, *_SETS):
            schema = {"type": "array", "items": self.of(args[0] if args else Any)}
            return {**schema, "uniqueItems": True} if origin in _SETS else schema
        if origin in _DICTS:
            return {"type": "object", "additionalProperties": self.of(args[1] if args else Any)}
        return {}

    def record(self, cls: type) -> dict[str, Any]:
        name = self._names.get(cls)
        if name is not None:
            return {"$ref": f"#/$defs/{name}"}
        # Keyed by the class, not its name: two classes called Item get Item and Item_2.
        name = self._names[cls] = self._free_name(cls.__name__)
        self.defs[name] = {}  # claimed first: a self-referencing class ends here
        properties: dict[str, Any] = {}
        required: list[str] = []
        if dataclasses.is_dataclass(cls):
            hints = type_hints(cls)
            for f in dataclasses.fields(cls):
                if not f.init:
                    continue
                properties[f.name] = {
                    "title": f.name.replace("_", " ").title(),
                    **self.of(hints[f.name]),
                }
                if f.default is not dataclasses.MISSING and _is_json(f.default):
                    properties[f.name]["default"] = _json_default(f.default)
                elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                    required.append(f.name)
        else:
            for name, hint in type_hints(cls, extras=True).items():
                is_required = name in cls.__required_keys__  # type: ignore[attr-defined]
                if get_origin(hint) in (Required, NotRequired):
                    is_required = get_origin(hint) is Required
                    hint = get_args(hint)[0]
                properties[name] = {"title": name.replace("_", " ").title(), **self.of(hint)}
                if is_required:
                    required.append(name)
        schema: dict[str, Any] = {
            "title": cls.__name__,
            "type": "object",
            "properties": properties,
            "additionalProperties": False,
        }
        if required:
            schema["required"] = required
        self.defs[name] = schema
        return {"$ref": f"#/$defs/{name}"}


def _renamed_refs(node: Any, renames: Mapping[str, str]) -> Any:
    """``node`` (a JSON Schema or part of one) with each ``$ref`` in ``renames`` rewritten."""
    if isinstance(node, dict):
        return {
            key: renames.get(item, item)
            if key == "$ref" and isinstance(item, str)
            else _renamed_refs(item, renames)
            for key, item in node.items()
        }
    if isinstance(node, (list, tuple)):
        return type(node)(_renamed_refs(item, renames) for item in node)
    return node


def _is_json(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool, enum.Enum))


def _json_default(value: Any) -> Any:
    return value.value if isinstance(value, enum.Enum) else value
