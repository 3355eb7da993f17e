"""Job data and results in and out of the wire: JSON by default, or any :class:`Serializer`.

The server only ever holds ``str`` (the connections decode replies as UTF-8 with
``surrogateescape``, so a binary payload travels losslessly: see :func:`text_from_bytes`).
JSON payloads are stored as they are, exactly as before serializers existed. Any other
serializer's payload is stored behind a marker naming it, ``~<name>:<body>`` (JSON text never
starts with ``~``), so a reader that does not know which serializer the app uses (the CLI,
``top``, the inspector) can still tell which one wrote each payload: see :func:`decode_payload`.

A custom serializer is any object with a ``name`` and ``dumps``/``loads`` methods (the
:class:`Serializer` protocol). A text format returns its text; a binary format turns its
bytes into text with :func:`text_from_bytes` and back with :func:`bytes_from_text`::

    import zlib

    class CompressedJson:
        name = "zjson"

        def dumps(self, value: Any) -> str:
            return text_from_bytes(zlib.compress(json.dumps(value).encode()))

        def loads(self, text: str) -> Any:
            return json.loads(zlib.decompress(bytes_from_text(text)))
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final, Protocol, runtime_checkable

from .errors import ConfigError, SerializationError

_encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)
_decoder = json.JSONDecoder()

MARKER: Final = "~"
"""First character of a payload written by a serializer other than JSON (never JSON's)."""

_NAME = r"[a-z0-9][a-z0-9_.-]{0,31}"  # compiled on first use (re caches it)


def dumps(value: Any, *, what: str = "job data") -> str:
    """Encode ``value`` as compact JSON.

    Raises:
        SerializationError: the value holds something JSON cannot represent, is nested
            deeper than the interpreter's recursion limit lets it walk, or holds text with a
            lone surrogate (not valid UTF-8).
    """
    try:
        text = _encoder.encode(value)
    except (TypeError, ValueError) as exc:
        raise SerializationError(
            f"{what} must be JSON-serialisable (dict, list, str, int, float, bool, None): {exc}"
        ) from exc
    except RecursionError:
        raise SerializationError(
            f"{what} is nested too deeply to encode as JSON; flatten it"
        ) from None
    if not text.isascii():
        # the connections would store a lone surrogate as a raw byte (surrogateescape, for
        # binary serializers): JSON stays valid UTF-8 for every other reader
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise SerializationError(
                f"{what} holds text that is not valid Unicode (a lone surrogate, such as "
                f"bytes decoded with surrogateescape): {exc}"
            ) from exc
    return text


def loads(text: str | None) -> Any:
    """Decode JSON written by :func:`dumps` (None stays None)."""
    return None if text is None else _decoder.decode(text)


def text_from_bytes(data: bytes) -> str:
    """Bytes as the ``str`` the wire carries: valid UTF-8 as itself, other bytes as lone
    surrogates (``surrogateescape``), which the connections turn back into the same bytes."""
    return data.decode("utf-8", "surrogateescape")


def bytes_from_text(text: str) -> bytes:
    """The bytes :func:`text_from_bytes` was given (also what the server holds)."""
    return text.encode("utf-8", "surrogateescape")


@runtime_checkable
class Serializer(Protocol):
    """Turns job data and results into text for the server and back.

    Attributes:
        name: names the format in every payload it writes (lowercase letters, digits, ``_.-``;
            at most 32 characters); readers find the serializer by it, so keep it stable.
    """

    name: str

    def dumps(self, value: Any) -> str:
        """``value`` as text (binary formats: through :func:`text_from_bytes`).

        Raises:
            Exception: any; the caller reports it as a SerializationError naming the value.
        """
        ...

    def loads(self, text: str) -> Any:
        """The value :meth:`dumps` turned into ``text``."""
        ...


class Json:
    """Compact JSON, the default: what taskora always wrote (dict, list, str, int, float,
    bool, None; tuples come back as lists)."""

    name = "json"

    def dumps(self, value: Any) -> str:
        return _encoder.encode(value)

    def loads(self, text: str) -> Any:
        return _decoder.decode(text)


JSON: Final = Json()
"""The default serializer."""


class Msgpack:
    """MessagePack through msgspec (``pip install 'taskora[msgspec]'``): smaller and faster
    than JSON, and carries ``bytes`` and timezone-aware ``datetime`` values as well (a naive
    datetime comes back as its ISO text).

    Raises:
        ConfigError: msgspec is not installed (at construction, so at configuration time).
    """

    name = "msgpack"

    def __init__(self) -> None:
        try:
            import msgspec  # type: ignore[import-not-found,unused-ignore]  # an optional extra
        except ImportError as exc:
            raise ConfigError(
                "the msgpack serializer needs msgspec: pip install 'taskora[msgspec]'"
            ) from exc
        self._encode = msgspec.msgpack.Encoder().encode
        self._decode = msgspec.msgpack.Decoder().decode

    def dumps(self, value: Any) -> str:
        return self._encode(value).decode("utf-8", "surrogateescape")

    def loads(self, text: str) -> Any:
        return self._decode(text.encode("utf-8", "surrogateescape"))


_BUILTIN_NAMES: Final = ("json", "msgpack")


def serializer_named(name: str) -> Serializer:
    """A built-in serializer by name (``"json"``, ``"msgpack"``): for config files and flags.

    Raises:
        ConfigError: no built-in serializer has that name, or its library is not installed.
    """
    if name == "json":
        return JSON
    if name == "msgpack":
        return Msgpack()
    raise ConfigError(f"no serializer named {name!r}; built in: {', '.join(_BUILTIN_NAMES)}")


def check_serializer(serializer: Any) -> Serializer:
    """``serializer`` if it is usable as one (see :class:`Serializer`), for configuration.

    Raises:
        ConfigError: it lacks ``name``/``dumps``/``loads``, its name is malformed, or it claims
            a built-in name without being that serializer.
    """
    if isinstance(serializer, type):  # the class has name/dumps/loads too, unbound
        raise ConfigError(
            f"serializer {serializer.__name__} is a class; pass an instance: "
            f"{serializer.__name__}()"
        )
    if not isinstance(serializer, Serializer):
        raise ConfigError(
            f"serializer must have a name and dumps(value) -> str / loads(text) methods, "
            f"got {type(serializer).__name__}"
        )
    name = serializer.name
    if not isinstance(name, str) or not re.fullmatch(_NAME, name):
        raise ConfigError(
            f"serializer name {name!r} must be 1-32 lowercase letters, digits or _.- "
            "(starting with a letter or digit)"
        )
    if name in _BUILTIN_NAMES and not isinstance(serializer, (Json, Msgpack)):
        raise ConfigError(f"serializer name {name!r} is taken by the built-in one; pick another")
    return serializer


def require_json(serializer: Serializer, feature: str) -> None:
    """Refuse ``feature`` unless the serializer is JSON, at configuration time.

    Collect tasks need JSON: the server joins their buffered items into one JSON array
    (``[a,b,c]``) without decoding them, which only JSON text allows.

    Raises:
        ConfigError: the serializer is not JSON.
    """
    if serializer.name != "json":
        raise ConfigError(
            f"{feature} needs the JSON serializer (the server joins its items into one JSON "
            f"array), but the app uses {serializer.name!r}"
        )


@dataclass(frozen=True, slots=True)
class Undecoded:
    """A payload :func:`decode_payload` could not decode, for display as it is (not a tuple,
    so JSON output goes through :func:`display_default`)."""

    serializer: str
    """The name of the serializer that wrote it."""
    text: str
    """The payload without its marker."""
    reason: str
    """Why it could not be decoded."""

    def __str__(self) -> str:
        raw = bytes_from_text(self.text)
        return f"<{len(raw)} bytes of {self.serializer}: {self.reason}>"


def _split(text: str) -> tuple[str, str]:
    """(serializer name, body) of a stored payload; JSON has no marker."""
    if text[:1] != MARKER:
        return "json", text
    name, colon, body = text[1:].partition(":")
    if not colon:
        raise ValueError("a payload marker without ':'")
    return name, body


class Payloads:
    """Writes payloads with one serializer and reads them whichever serializer wrote them.

    Args:
        serializer: what :meth:`dumps` writes with (default JSON).
        readers: more serializers :meth:`loads` accepts besides it and the built-in ones
            (custom serializers an app used before, say).

    Raises:
        ConfigError: a serializer is malformed (see :func:`check_serializer`).
    """

    def __init__(
        self, serializer: Serializer = JSON, *, readers: Iterable[Serializer] = ()
    ) -> None:
        self.serializer = check_serializer(serializer)
        self._readers: dict[str, Serializer] = {"json": JSON}
        for reader in (*readers, serializer):
            self._readers[check_serializer(reader).name] = reader
        self.is_json = serializer.name == "json"
        """True when payloads are plain JSON (the default, and the fast path)."""
        self._marker = f"{MARKER}{serializer.name}:"

    def dumps(self, value: Any, *, what: str = "job data") -> str:
        """``value`` as stored on the server.

        Raises:
            SerializationError: the serializer cannot encode it (the message says which value).
        """
        if self.is_json:
            return dumps(value, what=what)
        try:
            return self._marker + self.serializer.dumps(value)
        except Exception as exc:
            raise SerializationError(
                f"{what} cannot be encoded with the {self.serializer.name} serializer "
                f"({type(value).__name__} value): {exc}"
            ) from exc

    def loads(self, text: str | None, *, what: str = "job data") -> Any:
        """The value a stored payload holds (None stays None).

        Raises:
            SerializationError: it was written by a serializer this process does not know, or
                it is not valid for the serializer that wrote it.
        """
        if text is None:
            return None
        try:
            name, body = _split(text)
        except ValueError as exc:
            raise SerializationError(f"{what} is malformed: {exc}") from exc
        reader = self._readers.get(name)
        if reader is None:
            reader = self._builtin(name, what)
        try:
            return reader.loads(body)
        except Exception as exc:
            raise SerializationError(f"{what} is not valid {name}: {exc}") from exc

    def _builtin(self, name: str, what: str) -> Serializer:
        if name != "msgpack":
            raise SerializationError(
                f"{what} was written with the {name!r} serializer, which this process does "
                "not know: give it to the app (serializer= or readers=)"
            )
        try:
            reader = self._readers[name] = Msgpack()
        except ConfigError as exc:
            raise SerializationError(f"{what} was written with msgpack: {exc}") from exc
        return reader

    def show(self, text: str | None) -> Any:
        """Like :meth:`loads`, for display: a payload it cannot decode comes back as an
        :class:`Undecoded` (JSON that does not parse: as its text) instead of an error."""
        try:
            return self.loads(text)
        except SerializationError as exc:
            assert text is not None
            try:
                name, body = _split(text)
            except ValueError:
                return text
            return text if name == "json" else Undecoded(name, body, str(exc.__cause__ or exc))


_ANY_READER = Payloads()


def decode_payload(text: str | None, *, readers: Iterable[Serializer] = ()) -> Any:
    """Decode a stored payload whichever serializer wrote it, for display (CLI, ``top``,
    inspector): JSON and msgpack always; custom ones if given in ``readers``. What cannot be
    decoded comes back as an :class:`Undecoded` (or, for broken JSON, its text)."""
    payloads = Payloads(readers=readers) if readers else _ANY_READER
    return payloads.show(text)


def display_default(value: Any) -> Any:
    """For ``json.dumps(..., default=display_default)`` of decoded payloads (``--json``
    output): what msgpack carries beyond JSON as readable text, bytes as ``base64:...``, an
    :class:`Undecoded` as its summary."""
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray, memoryview)):
        import base64

        return "base64:" + base64.b64encode(value).decode()
    return str(value)
