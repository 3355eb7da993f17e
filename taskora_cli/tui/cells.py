"""Formatting helpers for render: one-line rows of fixed-width columns, counts, ages.

Every row is exactly one terminal line (cut with an ellipsis, never wrapped), so a screen
knows how many rows fit and the layout holds at 80x24.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text

Cell = str | Text
GAP = 2
"""Spaces between columns."""
WIDEST = 24
"""No column but the last grows wider than this; the last gets what is left at most."""


def line(text: Cell, width: int, style: str = "") -> Text:
    """``text`` as exactly one line of at most ``width`` cells."""
    out = text.copy() if isinstance(text, Text) else Text(text)
    if style:
        out.stylize(style)
    out.no_wrap = True
    out.truncate(width, overflow="ellipsis")
    return out


def grid(
    headers: Sequence[str],
    rows: Sequence[Sequence[Cell]],
    width: int,
    *,
    right: Sequence[int] = (),
    selected: int | None = None,
) -> list[Text]:
    """A header line then one line per row, columns sized to their content; the columns
    numbered in ``right`` are right-aligned; the ``selected`` row is shown reversed."""
    sizes = [
        min(WIDEST, max(len(headers[i]), *(len(_plain(r[i])) for r in rows)))
        for i in range(len(headers) - 1)
    ]
    room = max(1, width - sum(sizes) - GAP * (len(headers) - 1))
    sizes.append(min(room, max(len(headers[-1]), *(len(_plain(r[-1])) for r in rows))))
    out = [_row(headers, sizes, right, width, "bold")]
    for n, row in enumerate(rows):
        out.append(_row(row, sizes, right, width, "reverse" if n == selected else ""))
    return out


def _row(
    cells: Sequence[Cell], sizes: Sequence[int], right: Sequence[int], width: int, style: str
) -> Text:
    out = Text()
    for i, (cell, size) in enumerate(zip(cells, sizes, strict=True)):
        piece = cell.copy() if isinstance(cell, Text) else Text(cell)
        piece.truncate(size, overflow="ellipsis")
        pad = " " * (size - len(piece.plain))
        last = i == len(sizes) - 1
        if i in right:
            out.append(pad)
            out.append(piece)
        else:
            out.append(piece)
            if not last:
                out.append(pad)
        if not last:
            out.append(" " * GAP)
    return line(out, width, style)


def _plain(cell: Cell) -> str:
    return cell.plain if isinstance(cell, Text) else cell


def window(count: int, cursor: int, room: int) -> range:
    """The rows to show of ``count`` so that ``cursor`` is in view, ``room`` at a time."""
    room = max(1, room)
    start = 0 if cursor < room else cursor - room + 1
    return range(start, min(count, start + room))


def count(n: int) -> str:
    """A count that stays narrow: 99999, 123.4k, 1.2M."""
    if n < 100_000:
        return str(n)
    if n < 1_000_000:
        return f"{n / 1000:.1f}k"
    return f"{n / 1_000_000:.1f}M"


def age(seconds: float | None) -> str:
    """A duration the short way: "-", "4.2s", "3m", "2h", "5d"; negative means "in ...".."""
    if seconds is None:
        return "-"
    if seconds < 0:
        return "in " + age(-seconds)
    if seconds < 60:
        return f"{seconds:.1f}s"
    if seconds < 3600:
        return f"{seconds // 60:.0f}m"
    if seconds < 86_400:
        return f"{seconds // 3600:.0f}h"
    return f"{seconds // 86_400:.0f}d"
