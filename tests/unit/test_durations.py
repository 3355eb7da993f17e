"""How durations are shown back to people: exactly (format_ms), and roughly beside an exact
figure too small a unit to read (about)."""

from __future__ import annotations

import pytest

from taskora_cli.durations import about, format_ms


@pytest.mark.parametrize(
    ("ms", "exact", "rough"),
    [
        (1_500, "1500ms", ""),
        (59_000, "59s", ""),  # under a minute reads well as it is
        (3_600_000, "1h", ""),
        (90_000, "90s", ", about 1.5m"),
        (3_599_999, "3599999ms", ", about 1.0h"),  # rounded up to the next unit
        (864_001_000, "864001s", ", about 10.0d"),
        (2_246_603_486, "2246603486ms", ", about 26.0d"),
    ],
)
def test_a_duration_reads_exactly_and_roughly_when_its_unit_is_too_small(
    ms: int, exact: str, rough: str
) -> None:
    assert (format_ms(ms), about(ms)) == (exact, rough)
