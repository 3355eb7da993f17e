"""Serializers of job data and results (taskora_cli/serialization.py)."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import zlib
from typing import Any

import pytest

from taskora_cli.errors import ConfigError, SerializationError
from taskora_cli.serialization import (
    JSON,
    Msgpack,
    Payloads,
    Undecoded,
    bytes_from_text,
    check_serializer,
    decode_payload,
    display_default,
    require_json,
    serializer_named,
    text_from_bytes,
)

TYPICAL = {"user": 42, "email": "ann@example.com", "tags": ["a", "é"], "score": 1.5, "ok": True}


class CompressedJson:
    """A custom binary serializer, as the module docstring shows one."""

    name = "zjson"

    def dumps(self, value: Any) -> str:
        return text_from_bytes(zlib.compress(json.dumps(value).encode()))

    def loads(self, text: str) -> Any:
        return json.loads(zlib.decompress(bytes_from_text(text)))


def test_json_payloads_are_stored_as_before_serializers_existed() -> None:
    payloads = Payloads()
    assert payloads.dumps(TYPICAL) == json.dumps(TYPICAL, ensure_ascii=False, separators=(",", ":"))
    assert payloads.loads('{"a":[1,"é"]}') == {"a": [1, "é"]}
    assert payloads.loads(None) is None


def test_json_errors_name_the_bad_value_as_before() -> None:
    with pytest.raises(SerializationError, match=r"data for 'send' must be JSON-serialisable.*set"):
        Payloads().dumps({"x": {1}}, what="data for 'send'")
    # the server would get a raw byte that is not UTF-8 (the wire is binary-safe now)
    with pytest.raises(SerializationError, match="result holds text that is not valid Unicode"):
        Payloads().dumps(["é", "\udcff"], what="result")


def test_data_nested_past_the_recursion_limit_is_a_serialization_error() -> None:
    deep: list[Any] = []
    for _ in range(sys.getrecursionlimit() + 10):
        deep = [deep]
    with pytest.raises(SerializationError, match=r"data for 'send' is nested too deeply"):
        Payloads().dumps(deep, what="data for 'send'")


def test_msgpack_round_trips_what_json_cannot() -> None:
    payloads = Payloads(Msgpack())
    when = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    value = {**TYPICAL, "blob": b"\x00\xff\x80", "at": when, 3: "int key"}
    text = payloads.dumps(value)
    assert text.startswith("~msgpack:")
    assert payloads.loads(text) == value
    # a JSON app reads it too (msgpack is built in), and msgpack apps read old JSON payloads
    assert Payloads().loads(text) == value
    assert payloads.loads('{"old":1}') == {"old": 1}


def test_msgpack_errors_name_the_bad_value() -> None:
    with pytest.raises(SerializationError, match=r"result .*msgpack serializer \(dict value\).*"):
        Payloads(Msgpack()).dumps({"x": object()}, what="result")
    with pytest.raises(SerializationError, match="job data is not valid msgpack"):
        Payloads(Msgpack()).loads("~msgpack:\udcc1")


def test_a_custom_binary_serializer_round_trips_and_is_read_by_name() -> None:
    payloads = Payloads(CompressedJson())
    text = payloads.dumps(TYPICAL)
    assert text.startswith("~zjson:")
    assert payloads.loads(text) == TYPICAL
    with pytest.raises(SerializationError, match="'zjson' serializer, which this process"):
        Payloads().loads(text)
    assert Payloads(readers=[CompressedJson()]).loads(text) == TYPICAL


def test_display_decodes_what_it_can_and_shows_the_rest() -> None:
    assert decode_payload(Payloads(Msgpack()).dumps([1, "x"])) == [1, "x"]
    assert decode_payload("not json") == "not json"  # written by something else: as it is
    custom = Payloads(CompressedJson()).dumps({"a": 1})
    shown = decode_payload(custom)
    assert isinstance(shown, Undecoded) and shown.serializer == "zjson"
    assert str(shown).startswith("<") and "zjson" in str(shown)
    assert decode_payload(custom, readers=[CompressedJson()]) == {"a": 1}


def test_serializers_are_checked_at_configuration_time() -> None:
    assert serializer_named("json") is JSON
    assert isinstance(serializer_named("msgpack"), Msgpack)
    with pytest.raises(ConfigError, match="no serializer named 'yaml'"):
        serializer_named("yaml")
    with pytest.raises(ConfigError, match="must have a name"):
        check_serializer(object())

    class Named(CompressedJson):
        def __init__(self, name: str) -> None:
            self.name = name

    with pytest.raises(ConfigError, match="must be 1-32 lowercase"):
        Payloads(Named("Bad:name"))
    with pytest.raises(ConfigError, match="taken by the built-in"):
        Payloads(Named("json"))
    require_json(JSON, "collect")
    with pytest.raises(ConfigError, match=r"collect needs the JSON serializer.*'msgpack'"):
        require_json(Msgpack(), "collect")


def test_binary_text_is_lossless() -> None:
    every_byte = bytes(range(256)) * 2
    assert bytes_from_text(text_from_bytes(every_byte)) == every_byte


def test_importing_taskora_does_not_import_msgspec() -> None:
    code = (
        "import sys, taskora_cli.serialization\n"
        "from taskora_cli import *  # every public name\n"
        "assert 'msgspec' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_msgpack_without_msgspec_is_a_configuration_error() -> None:
    code = (
        "import sys; sys.modules['msgspec'] = None\n"
        "from taskora_cli.errors import ConfigError\n"
        "from taskora_cli.serialization import Msgpack, Payloads, decode_payload\n"
        "try:\n    Msgpack()\nexcept ConfigError as e:\n    assert 'taskora[msgspec]' in str(e)\n"
        "else:\n    raise AssertionError\n"
        "print(decode_payload('~msgpack:\\x91\\x01'))\n"
    )
    shown = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert shown.stdout.startswith("<3 bytes of msgpack:") and "msgspec" in shown.stdout


def test_decoded_payloads_show_as_json() -> None:
    when = dt.datetime(2026, 1, 2, tzinfo=dt.UTC)
    unknown = decode_payload(Payloads(CompressedJson()).dumps(1))
    shown = json.dumps([b"\x00\xff", when, unknown], default=display_default)
    assert json.loads(shown)[:2] == ["base64:AP8=", "2026-01-02T00:00:00+00:00"]
    assert json.loads(shown)[2].startswith("<9 bytes of zjson: ")


def test_a_serializer_class_instead_of_an_instance_says_so() -> None:
    with pytest.raises(ConfigError, match=r"pass an instance: Msgpack\(\)"):
        Payloads(Msgpack)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"pass an instance: CompressedJson\(\)"):
        Payloads(CompressedJson)  # type: ignore[arg-type]
