"""Stream entries -> one event per job: several jobs' values split, one job's kept whole."""

from __future__ import annotations

from taskora_cli.engine.events import expand


def test_an_entry_of_several_jobs_splits_its_values_per_job() -> None:
    found = expand("t", "5-1", {"event": "active", "job": "a b", "attempt": "1 2"})
    assert [(e.job_id, e.fields, e.at_ms) for e in found] == [
        ("a", {"attempt": "1"}, 5),
        ("b", {"attempt": "2"}, 5),
    ]


def test_one_jobs_values_keep_their_spaces() -> None:
    [found] = expand("t", "7-0", {"event": "waiting", "job": "a", "reason": "handed back"})
    assert (found.event, found.job_id, found.fields) == ("waiting", "a", {"reason": "handed back"})
