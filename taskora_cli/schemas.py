"""Schemas of task data and results: one interface over pydantic, msgspec and plain Python.

A user passes ``input=``/``output=`` as a pydantic model, a msgspec Struct, a dataclass, a
TypedDict, or a callable that returns the checked value or raises; :func:`schema_of` turns
any of them into a :class:`Schema`. pydantic and msgspec are optional extras and are never
imported here: an object can only be one of theirs if its library is already loaded, so the
checks look in ``sys.modules`` instead.
"""

from __future__ import annotations

import dataclasses
import enum
import inspect
import re
import sys
import typing
from collections.abc import Callable
from typing import Any

from .errors import Issue, SerializationError, UsageError, ValidationError
from .type_check import (
    INVALID,
    Check,
    Nested,
    SchemaMismatch,
    TypeChecker,
    inline_top,
    is_record_class,
    json_schema_of,
)

__all__ = [
    "Schema",
    "SchemaMismatch",
    "input_schema_of_handler",
    "output_schema_of_handler",
    "schema_of",
    "to_wire",
]

_ACCEPTED = (
    "a pydantic model class, a msgspec Struct class, a dataclass, a TypedDict, "
    "or a function that returns the checked value or raises"
)


class Schema:
    """What a task's data or result must look like, whatever library describes it.

    Attributes:
        name: the schema's name for messages (the class or function name).
    """

    name: str

    def validate(self, value: Any) -> Any:
        """Checks ``value`` and returns it in the schema's own form.

        That is the model instance, the Struct, the dataclass instance, or for a TypedDict
        a new dict. Missing fields that have defaults get them.

        Raises:
            SchemaMismatch: the value does not match; ``issues`` says where and why.
        """
        raise NotImplementedError

    def to_wire(self, value: Any) -> Any:
        """``value`` (checked or not) as plain JSON-able data: dicts, lists, str, numbers."""
        return to_wire(value)

    def check(self, value: Any, *, task: str, what: str = "data") -> Any:
        """:meth:`validate` for a task: a mismatch raises the public ``ValidationError``.

        Args:
            value: the data (or result) to check.
            task: the task's name, for the error.
            what: what the value is, for the error ("data", "result").

        Raises:
            ValidationError: the value does not match; ``issues`` lists why.
        """
        try:
            return self.validate(value)
        except SchemaMismatch as exc:
            raise ValidationError(task, exc.issues, what=what) from None

    def json_schema(self) -> dict[str, Any] | None:
        """The JSON Schema document of this schema, or None when it has none (a function)."""
        return None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


def _refuse_one_way_aliases(cls: type) -> None:
    """Jobs carry a model as it dumps by alias and are read back by validating that: a field
    whose ``serialization_alias`` its own validation does not accept would be lost on the way
    (or rejected, with ``extra="forbid"``). Refuse it where the task is defined."""
    fields: dict[str, Any] = getattr(cls, "model_fields", {}) or {}
    config: Any = getattr(cls, "model_config", {}) or {}
    by_name = bool(config.get("populate_by_name") or config.get("validate_by_name"))
    for name, info in fields.items():
        written = getattr(info, "serialization_alias", None)
        if written is None:
            continue
        read = {info.alias, info.validation_alias, name if by_name else None}
        if written not in read:
            raise UsageError(
                f"{cls.__name__}.{name} is written as {written!r} (serialization_alias) but "
                f"read back only as {(info.validation_alias or info.alias or name)!r}: a job's "
                f"data would lose it; use alias={written!r} (both ways) instead"
            )


class _PydanticSchema(Schema):
    """A pydantic v2 model (or pydantic dataclass), through one TypeAdapter."""

    def __init__(self, cls: type) -> None:
        import pydantic  # loaded already: cls is one of its classes

        self.name = cls.__name__
        self._cls = cls
        _refuse_one_way_aliases(cls)
        self._adapter: Any = pydantic.TypeAdapter(cls)
        self._error = pydantic.ValidationError

    def validate(self, value: Any) -> Any:
        try:
            return self._adapter.validate_python(value)
        except self._error as exc:
            raise SchemaMismatch(
                [
                    Issue(".".join(str(part) for part in error["loc"]), error["msg"])
                    for error in exc.errors(include_url=False)
                ]
            ) from None

    def to_wire(self, value: Any) -> Any:
        if isinstance(value, self._cls):
            return _pydantic_wire(value, self._adapter.dump_python)
        return to_wire(value)  # e.g. a dict a handler returned instead of the model

    def json_schema(self) -> dict[str, Any] | None:
        import pydantic.errors

        try:
            return dict(self._adapter.json_schema())
        except pydantic.errors.PydanticInvalidForJsonSchema:  # a field of an arbitrary type
            return None


# msgspec reports one error as "<message> - at `$.items[0].qty`".
_MSGSPEC_AT = re.compile(r"^(?P<message>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)
_MSGSPEC_STEP = re.compile(r"\.([^.\[]+)|\[([^\]]*)\]")
_MSGSPEC_FIELD = re.compile(r"^Object (?:missing required|contains unknown) field `([^`]+)`$")


def _msgspec_issue(text: str) -> Issue:
    match = _MSGSPEC_AT.match(text)
    message, at = (match["message"], match["path"] or "") if match else (text, "")
    steps = [
        name or ("*" if index == "..." else index.strip('"'))  # "[...]": a key it won't name
        for name, index in _MSGSPEC_STEP.findall(at)
    ]
    field = _MSGSPEC_FIELD.match(message)
    if field:  # name the field itself, as pydantic and the dataclass checker do
        steps.append(field[1])
        message = "field required" if "missing" in message else "unknown field"
    return Issue(".".join(steps), message)


class _MsgspecSchema(Schema):
    """A msgspec Struct, through ``msgspec.convert`` (strict: no string-to-number coercion)."""

    def __init__(self, cls: type) -> None:
        import msgspec  # loaded already: cls is one of its classes

        self.name = cls.__name__
        self._cls = cls
        self._msgspec: Any = msgspec

    def validate(self, value: Any) -> Any:
        try:
            return self._msgspec.convert(value, type=self._cls)
        except self._msgspec.ValidationError as exc:
            raise SchemaMismatch([_msgspec_issue(str(exc))]) from None

    def to_wire(self, value: Any) -> Any:
        return self._msgspec.to_builtins(value)

    def json_schema(self) -> dict[str, Any]:
        return inline_top(self._msgspec.json.schema(self._cls))


def _foreign(cls: type) -> Nested | None:
    """A pydantic or msgspec class used as a field type inside a dataclass/TypedDict."""
    if _is_pydantic(cls):
        return _PydanticSchema(cls)
    if _is_msgspec(cls):
        return _MsgspecSchema(cls)
    return None


class _RecordSchema(Schema):
    """A dataclass or TypedDict, checked by :mod:`taskora_cli.type_check` (no extra needed)."""

    def __init__(self, cls: type) -> None:
        self.name = cls.__name__
        self._cls = cls
        self._check: Check = TypeChecker(_foreign).compile(cls, cls.__qualname__)

    def validate(self, value: Any) -> Any:
        issues: list[Issue] = []
        checked = self._check(value, "", issues)
        if checked is INVALID:
            raise SchemaMismatch(issues)
        return checked

    def json_schema(self) -> dict[str, Any]:
        return json_schema_of(self._cls, _foreign)


class _CallableSchema(Schema):
    """A function that returns the checked value or raises; its message becomes the issue.

    A function that returns None leaves the value as it was, so a plain "raise if bad"
    checker works as well as a converter. A predicate works too: True accepts the value as
    it was, False rejects it ("check <name> returned False"); a bool is never taken for the
    checked value itself. It may raise :class:`SchemaMismatch` (or ``ValidationError``)
    itself to report several issues with their paths.
    """

    def __init__(self, check: Callable[[Any], Any]) -> None:
        self.name = getattr(check, "__qualname__", None) or type(check).__qualname__
        self._short_name = getattr(check, "__name__", None) or type(check).__name__
        self._check = check

    def validate(self, value: Any) -> Any:
        try:
            checked = self._check(value)
        except SchemaMismatch:
            raise
        except ValidationError as exc:
            raise SchemaMismatch(exc.issues) from None
        except Exception as exc:
            raise SchemaMismatch([Issue("", str(exc) or type(exc).__name__)]) from exc
        if checked is False:
            raise SchemaMismatch([Issue("", f"check {self._short_name} returned False")])
        return value if checked is None or checked is True else checked


def _is_pydantic(obj: Any) -> bool:
    pydantic = sys.modules.get("pydantic")
    if pydantic is None or not isinstance(obj, type):
        return False
    return issubclass(obj, pydantic.BaseModel) or (
        dataclasses.is_dataclass(obj) and hasattr(obj, "__pydantic_validator__")
    )


def _is_msgspec(obj: Any) -> bool:
    msgspec = sys.modules.get("msgspec")
    return msgspec is not None and isinstance(obj, type) and issubclass(obj, msgspec.Struct)


def _is_schema_class(obj: Any) -> bool:
    """True for the classes a schema can be: model, Struct, dataclass, TypedDict."""
    return _is_pydantic(obj) or _is_msgspec(obj) or is_record_class(obj)


def schema_of(obj: Any) -> Schema | None:
    """The :class:`Schema` for what a user passed as ``input=`` or ``output=``.

    Args:
        obj: a pydantic v2 model class, a msgspec Struct class, a dataclass, a TypedDict,
            a function (or callable object) that returns the checked value or raises (None
            or True keeps the value as it was, False rejects it), an existing Schema, or None.

    Returns:
        The schema, or None for None.

    Raises:
        UsageError: ``obj`` is none of those, or a dataclass/TypedDict has a field type
            the built-in checker cannot check.
    """
    if obj is None or isinstance(obj, Schema):
        return obj
    if _is_pydantic(obj):
        return _PydanticSchema(obj)
    if _is_msgspec(obj):
        return _MsgspecSchema(obj)
    if is_record_class(obj):
        return _RecordSchema(obj)
    if isinstance(obj, type) or typing.get_origin(obj) is not None:
        raise UsageError(f"cannot use {obj!r} as a schema; use {_ACCEPTED}")
    if inspect.iscoroutinefunction(obj):
        raise UsageError(f"schema {obj.__qualname__} is async; a check function must be plain")
    if callable(obj):
        return _CallableSchema(obj)
    raise UsageError(f"cannot use {obj!r} as a schema; use {_ACCEPTED}")


def input_schema_of_handler(fn: Callable[..., Any]) -> Schema | None:
    """The schema a handler declares by annotating its first parameter (``data: Email``).

    Only a model, Struct, dataclass or TypedDict counts; no annotation, ``Any``, ``dict``,
    ``list`` or a primitive gives None (the handler takes the data as decoded JSON).
    """
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):  # some builtins have no signature
        return None
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    first = next((p for p in signature.parameters.values() if p.kind in positional), None)
    if first is None:
        return None
    return _schema_of_annotation(fn, first.annotation)


def output_schema_of_handler(fn: Callable[..., Any]) -> Schema | None:
    """The schema a handler declares by its return annotation (``-> Receipt``), same rule."""
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):
        return None
    return _schema_of_annotation(fn, signature.return_annotation)


def _schema_of_annotation(fn: Callable[..., Any], annotation: Any) -> Schema | None:
    if isinstance(annotation, str):  # `from __future__ import annotations`
        # Resolved alone: other parameters may name types imported only under TYPE_CHECKING.
        namespace = getattr(inspect.unwrap(fn), "__globals__", {})
        try:
            annotation = eval(annotation, namespace)  # what typing.get_type_hints does too
        except Exception:
            return None
    return schema_of(annotation) if _is_schema_class(annotation) else None


_JSON_SCALARS = frozenset({str, int, float, bool, type(None)})


def to_wire(value: Any) -> Any:
    """``value`` as JSON-able data: models, Structs, dataclasses and enums become plain data.

    Plain JSON values (dicts, lists, str, int, float, bool, None all the way down) come back
    as they are, not copied: one walk over them finds nothing to convert. Otherwise a new
    value is built; the caller's own is never changed.
    """
    if type(value) in _JSON_SCALARS or _is_plain_json(value):
        return value
    return _converted(value)


def _is_plain_json(value: Any) -> bool:
    """True if ``value`` holds nothing but dicts, lists and JSON scalars (exact types: an
    Enum that is also a str or int still needs converting). A loop, not a recursion, so
    deep data cannot exhaust the stack."""
    scalars = _JSON_SCALARS
    pending = [value]
    while pending:
        item = pending.pop()
        kind = type(item)
        if kind is dict:
            if not scalars.issuperset(map(type, item)):  # an Enum key, say
                return False
            pending.extend(item.values())
        elif kind is list:
            pending.extend(item)
        elif kind not in scalars:
            return False
    return True


def _converted(value: Any) -> Any:
    if value is None or isinstance(value, (str, int, float, bool)):
        return value.value if isinstance(value, enum.Enum) else value
    if isinstance(value, dict):
        return {_wire_key(key): to_wire(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_wire(item) for item in value]
    if isinstance(value, enum.Enum):
        return to_wire(value.value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        if hasattr(value, "__pydantic_validator__"):
            return _pydantic_dump(value)
        return {f.name: to_wire(getattr(value, f.name)) for f in dataclasses.fields(value)}
    pydantic = sys.modules.get("pydantic")
    if pydantic is not None and isinstance(value, pydantic.BaseModel):
        return _pydantic_wire(value, type(value).model_dump)
    msgspec = sys.modules.get("msgspec")
    if msgspec is not None and isinstance(value, msgspec.Struct):
        return msgspec.to_builtins(value)
    return value  # left for the serializer to accept or reject with its own message


def _wire_key(key: Any) -> Any:
    return key.value if isinstance(key, enum.Enum) else key


def _pydantic_dump(value: Any) -> Any:
    cls = type(value)
    adapter = _PYDANTIC_ADAPTERS.get(cls)
    if adapter is None:  # one per class: building one costs far more than a dump
        import pydantic

        adapter = _PYDANTIC_ADAPTERS[cls] = pydantic.TypeAdapter(cls)
    return _pydantic_wire(value, adapter.dump_python)


_PYDANTIC_ADAPTERS: dict[type, Any] = {}


def _pydantic_wire(value: Any, dump: Callable[..., Any]) -> Any:
    """``dump(value)`` (a model's or TypeAdapter's) as JSON data, by alias; a field it cannot
    write (bytes that are not UTF-8, say) is a SerializationError naming that field."""
    try:
        return dump(value, mode="json", by_alias=True)
    except ValueError as exc:  # UnicodeDecodeError, PydanticSerializationError
        fields = getattr(type(value), "__pydantic_fields__", None) or {}
        bad = [name for name in fields if not _dumps(value, dump, name)]
        where = f"field {bad[0]!r} of " if bad else ""
        raise SerializationError(
            f"{where}{type(value).__name__} cannot be written as JSON data: {exc}"
        ) from exc


def _dumps(value: Any, dump: Callable[..., Any], field: str) -> bool:
    try:
        dump(value, mode="json", by_alias=True, include={field})
    except ValueError:
        return False
    return True
