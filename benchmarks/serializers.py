"""JSON vs msgpack per job: encode and decode time of a typical payload, and its stored size.

Run: .venv/bin/python benchmarks/serializers.py  (msgpack needs msgspec installed)

Times are through :class:`taskora_cli.serialization.Payloads`, so they include what a job pays
for on top of the format itself: the ``~msgpack:`` marker and the bytes <-> str step.
"""

from __future__ import annotations

import timeit
from typing import Any

import hiredis

from taskora_cli.engine.resp import pack
from taskora_cli.serialization import JSON, Msgpack, Payloads, Serializer, bytes_from_text

PAYLOADS: dict[str, Any] = {
    "typical 5 fields": {
        "user_id": 123456,
        "email": "ann.smith@example.com",
        "template": "welcome",
        "locale": "en-GB",
        "vars": {"name": "Ann", "plan": "pro", "trial_days": 14},
    },
    "100 numbers": {"ids": list(range(100_000, 100_100)), "weights": [0.5] * 100},
}


def measure(serializer: Serializer, value: Any, rounds: int = 100_000) -> list[float]:
    """[encode µs, decode µs, wire µs, stored bytes] per payload; wire is the client's part of
    sending it (an enqueue call packed as RESP) and of receiving it (a reply parsed by hiredis
    into str, as the engine's connection does)."""
    payloads = Payloads(serializer)
    text = payloads.dumps(value)
    assert payloads.loads(text) == value
    call = ("EVALSHA", "0" * 40, 4, "w", "p", "e", "m", "tag", "job-id", text, 1_700_000_000_000)
    raw = bytes_from_text(text)
    reply = b"$%d\r\n%b\r\n" % (len(raw), raw)
    reader = hiredis.Reader(encoding="utf-8", errors="surrogateescape")

    def wire() -> None:
        pack(call)
        reader.feed(reply)
        reader.gets()

    timed = [lambda: payloads.dumps(value), lambda: payloads.loads(text), wire]
    per_call = [min(timeit.repeat(run, number=rounds, repeat=3)) / rounds * 1e6 for run in timed]
    return [*per_call, len(raw)]


def main() -> None:
    print(f"{'payload':<18} {'serializer':<10} encode µs  decode µs  wire µs  bytes")
    for label, value in PAYLOADS.items():
        for serializer in (JSON, Msgpack()):
            encode, decode, wire, size = measure(serializer, value)
            print(
                f"{label:<18} {serializer.name:<10} {encode:>9.2f}  {decode:>9.2f}  "
                f"{wire:>7.2f}  {size:>5.0f}"
            )


if __name__ == "__main__":
    main()
