"""What a stored error says, and its shape: the same error with its values masked, so the
dead letters of one cause group together (``dlq ls --group``, the board's dead-letter tab)."""

from __future__ import annotations

import json
import re


def parse_error(raw: str | None) -> tuple[str, str, str | None]:
    """(type, message, traceback) of a stored error JSON; tolerant of anything else."""
    if not raw:
        return "?", "", None
    try:
        value = json.loads(raw)
    except ValueError:
        return "?", raw, None
    if not isinstance(value, dict):
        return "?", str(value), None
    trace = value.get("traceback")
    return (
        str(value.get("type") or "?"),
        str(value.get("message") or ""),
        trace if isinstance(trace, str) else None,
    )


# What varies between messages of one error, masked in this order (an id's digits are not
# numbers of their own). Each mask has the regular expression that matches what it replaced.
_MASKS: tuple[tuple[re.Pattern[str], str, str], ...] = (
    (re.compile(r"'[^'\n]*'"), "'<s>'", r"'[^'\n]*'"),
    (re.compile(r'"[^"\n]*"'), '"<s>"', r'"[^"\n]*"'),
    (
        re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"),
        "<id>",
        r"[0-9A-Za-z-]+",
    ),
    # hex and base-36 ids (taskora's own): 8+ letters and digits with at least one digit
    (re.compile(r"\b(?:0x)?(?=[0-9A-Za-z]*\d)(?=[0-9A-Za-z]*[A-Za-z])[0-9A-Za-z]{8,}\b"), "<id>",
     r"[0-9A-Za-z-]+"),
    (re.compile(r"(?<![A-Za-z_<])-?\d+(?:\.\d+)?"), "<n>", r"-?\d+(?:\.\d+)?"),
)  # fmt: skip
_HOLES = re.compile("|".join(re.escape(mask) for _, mask, _ in _MASKS))


def error_shape(message: str) -> str:
    """A message with its values masked, so the errors of one cause group together:
    ``card 4242 declined for 'bob'`` -> ``card <n> declined for '<s>'``."""
    for pattern, mask, _ in _MASKS:
        message = pattern.sub(mask, message)
    return message


def shape_pattern(error_type: str, shape: str) -> str:
    """A regular expression for ``--error-match`` that matches ``"ErrorType: message"`` for
    every message of this shape."""
    holes = {mask: regex for _, mask, regex in _MASKS}
    parts, at = [], 0
    for hole in _HOLES.finditer(shape):
        parts += [re.escape(shape[at : hole.start()]), holes[hole.group()]]
        at = hole.end()
    parts.append(re.escape(shape[at:]))
    return f"^{re.escape(error_type)}: {''.join(parts)}$"
