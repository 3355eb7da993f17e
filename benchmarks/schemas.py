"""Per-call cost of checking one job's data, for each kind of schema.

Run by hand from the repository root (needs the dev extra: pydantic and msgspec):

    python benchmarks/schemas.py
    python benchmarks/schemas.py --number 50000

Each kind checks the same five-field payload as it arrives from JSON (a dict), through
``Schema.validate`` (what the worker calls before the handler) and ``Schema.to_wire`` (what
dispatch calls on a model instance). Prints microseconds per call, best of five runs.
"""

from __future__ import annotations

import argparse
import timeit
from dataclasses import dataclass

import msgspec
import pydantic

from taskora_cli.schemas import schema_of


class EmailModel(pydantic.BaseModel):
    to: str
    subject: str
    body: str
    priority: int = 0
    tags: list[str] = []


class EmailStruct(msgspec.Struct):
    to: str
    subject: str
    body: str
    priority: int = 0
    tags: list[str] = []


@dataclass
class EmailDataclass:
    to: str
    subject: str
    body: str
    priority: int = 0
    tags: list[str] | None = None


PAYLOAD = {
    "to": "ann@example.com",
    "subject": "Hello",
    "body": "A short body.",
    "priority": 3,
    "tags": ["welcome", "onboarding"],
}


def per_call_us(fn: object, number: int) -> float:
    """Best of five runs, in microseconds per call."""
    return min(timeit.repeat(fn, number=number, repeat=5)) / number * 1e6  # type: ignore[arg-type]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--number", type=int, default=20000, help="calls per run")
    number = parser.parse_args().number
    print(f"{'schema':<22}{'validate µs':>14}{'to_wire µs':>14}")
    for kind in (EmailModel, EmailStruct, EmailDataclass):
        schema = schema_of(kind)
        assert schema is not None
        checked = schema.validate(PAYLOAD)
        validate = per_call_us(lambda s=schema: s.validate(PAYLOAD), number)
        to_wire = per_call_us(lambda s=schema, c=checked: s.to_wire(c), number)
        print(f"{kind.__name__:<22}{validate:>14.2f}{to_wire:>14.2f}")


if __name__ == "__main__":
    main()
