"""Decoding what a raw-mode terminal sends into the key names the reducer reads."""

from __future__ import annotations

import pytest

from taskora_cli.tui.keymap import decode

TABLE = [
    (b"q", ["q"]),
    (b"jjR", ["j", "j", "R"]),
    (b"\x1b[A\x1b[B\x1b[C\x1b[D", ["up", "down", "right", "left"]),
    (b"\x1bOA\x1bOB", ["up", "down"]),  # arrows in application cursor mode
    (b"\x1b[5~\x1b[6~\x1b[H\x1b[F", ["pgup", "pgdn", "home", "end"]),
    (b"\r\n\t\x7f", ["enter", "enter", "tab", "backspace"]),
    (b"\x1b", ["esc"]),
    (b"\x1b\x1b[A", ["esc", "up"]),
    (b"\x1bq", ["esc", "q"]),
    (b"\x1b[15~x", ["x"]),  # F5: unknown, dropped whole
    (b"\x01/\xc3\xa9", ["/", "é"]),  # a control key is dropped; UTF-8 comes through
]


@pytest.mark.parametrize(("raw", "keys"), TABLE, ids=[repr(raw) for raw, _ in TABLE])
def test_decode(raw: bytes, keys: list[str]) -> None:
    assert decode(raw) == keys
