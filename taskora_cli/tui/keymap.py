"""Bytes read from a terminal in raw mode -> key names the reducer understands.

Printable characters stay themselves ("j", "R", "/", "?"); the rest get names ("up",
"enter", "esc", ...). Pure, so the decoding is tested as data.
"""

from __future__ import annotations

SEQUENCES = {
    "\x1b[A": "up",
    "\x1b[B": "down",
    "\x1b[C": "right",
    "\x1b[D": "left",
    "\x1bOA": "up",
    "\x1bOB": "down",
    "\x1bOC": "right",
    "\x1bOD": "left",
    "\x1b[H": "home",
    "\x1b[F": "end",
    "\x1bOH": "home",
    "\x1bOF": "end",
    "\x1b[1~": "home",
    "\x1b[4~": "end",
    "\x1b[5~": "pgup",
    "\x1b[6~": "pgdn",
    "\x1b[3~": "delete",
    "\x1b[Z": "backtab",
}
SINGLE = {"\r": "enter", "\n": "enter", "\t": "tab", "\x7f": "backspace", "\x08": "backspace"}


def decode(raw: bytes) -> list[str]:
    """The keys in one read from the terminal; unknown escape sequences are dropped."""
    text = raw.decode("utf-8", errors="ignore")
    keys: list[str] = []
    i = 0
    while i < len(text):
        if text[i] == "\x1b":
            i, key = _escape(text, i)
            if key:
                keys.append(key)
            continue
        char = text[i]
        i += 1
        if char in SINGLE:
            keys.append(SINGLE[char])
        elif char.isprintable():
            keys.append(char)
    return keys


def _escape(text: str, i: int) -> tuple[int, str | None]:
    """(index after the sequence starting at ``i``, its key name or None)."""
    for sequence, name in SEQUENCES.items():
        if text.startswith(sequence, i):
            return i + len(sequence), name
    if i + 1 >= len(text) or text[i + 1] == "\x1b":
        return i + 1, "esc"  # a lone Esc arrives by itself
    if text[i + 1] not in "[O":
        return i + 1, "esc"  # Esc then an ordinary key
    end = i + 2  # an unknown CSI sequence: skip to its final byte
    while end < len(text) and not ("@" <= text[end] <= "~"):
        end += 1
    return end + 1, None
