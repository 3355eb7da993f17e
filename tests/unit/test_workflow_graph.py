"""Composition and flattening of workflows (no server)."""

from __future__ import annotations

import pytest

from taskora_cli import Taskora, UsageError, chain, chord, group
from taskora_cli.workflow_graph import flatten, node_job_id, parse_node_job_id

app = Taskora(url="redis://127.0.0.1:1/0")


@app.task("add")
def add(data: dict[str, int]) -> int:
    return data["a"] + data["b"]


@app.task("double")
def double(n: int) -> int:
    return n * 2


def shape(c):  # (task, deps, bound) per node, and the outputs
    g = flatten(c)
    return [(n.task, n.deps, n.bound) for n in g.nodes], g.outputs


def test_chain_and_pipe_flatten_alike():
    nodes = [("add", (), True), ("double", (0,), False), ("double", (1,), False)]
    assert shape(chain(add.s({"a": 1, "b": 2}), double.s(), double.s())) == (nodes, (2,))
    assert shape(add.s({"a": 1, "b": 2}) | double.s() | double.s()) == (nodes, (2,))


def test_group_outputs_every_member_in_order():
    nodes, outputs = shape(group(add.s({"a": 1, "b": 1}), add.s({"a": 2, "b": 2})))
    assert nodes == [("add", (), True), ("add", (), True)]
    assert outputs == (0, 1)


def test_group_as_chain_step_fans_out_and_collects():
    c = chain(add.s({"a": 1, "b": 1}), group(double.s(), double.s()), double.s())
    nodes, outputs = shape(c)
    assert nodes == [
        ("add", (), True),
        ("double", (0,), False),
        ("double", (0,), False),
        ("double", (1, 2), False),
    ]
    assert outputs == (3,)


def test_chord_of_chains():
    c = chord(
        [chain(add.s({"a": 1, "b": 1}), double.s()), chain(add.s({"a": 2, "b": 2}), double.s())],
        add.s(),
    )
    nodes, outputs = shape(c)
    assert [n[1] for n in nodes] == [(), (0,), (), (2,), (1, 3)]
    assert outputs == (4,)


def test_map_and_chunk():
    assert shape(double.map([1, 2, 3]))[1] == (0, 1, 2)
    nodes, outputs = shape(double.chunk(range(5), size=2))
    assert [n[1] for n in nodes] == [(), (), (0, 1), (0, 1), (2, 3)]
    assert outputs == (0, 1, 2, 3, 4)  # every item's result, in order


def test_unbound_first_step_is_refused():
    with pytest.raises(UsageError, match="must be bound"):
        flatten(chain(double.s(), double.s()))


def test_bad_members_are_refused():
    with pytest.raises(UsageError):
        group()
    with pytest.raises(UsageError):
        chain(add.s({"a": 1, "b": 1}), 3)  # type: ignore[arg-type]
    with pytest.raises(UsageError):
        double.chunk([1], size=0)


def test_node_job_ids_name_their_workflow():
    assert parse_node_job_id(node_job_id("abc", 7)) == ("abc", 7)
    assert parse_node_job_id("plainjobid") is None
