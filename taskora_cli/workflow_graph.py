"""Workflow composition: signatures, chain, group, chord, and their flattening to a graph.

Pure data, no server: a composition is a tree of :class:`Signature`, :class:`Chain`,
:class:`Group` and :class:`Chord`; :func:`flatten` turns it into nodes with dependencies and
pre-generated job ids, which :mod:`taskora_cli.workflow` stores and dispatches.

Data follows the full-bind-or-pipe model: ``task.s(data)`` runs on ``data`` whatever came
before it (it still waits for it); ``task.s()`` receives the previous step's output: one
result, or the list of results in order when the previous step was a group.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from .errors import UsageError

DEFAULT_CHUNK_SIZE = 50


def node_job_id(workflow_id: str, index: int) -> str:
    """The pre-generated job id of node ``index``: ``<workflow id>.<index>``. Plain job ids
    never hold a dot, so a worker knows a workflow's job from its id alone (no extra read)."""
    return f"{workflow_id}.{index}"


def parse_node_job_id(job_id: str) -> tuple[str, int] | None:
    """(workflow id, node index) of a workflow node's job id, or None for a plain job."""
    workflow_id, dot, index = job_id.rpartition(".")
    if not dot or not index.isdigit():
        return None
    return workflow_id, int(index)


class Task(Protocol):
    """What a composition needs of a task (taskora_cli.task.Task is one); a protocol, so this
    module stays below task.py and workflow.py."""

    name: str
    runtime: Any
    options: Any

    def checked(self, data: Any, skip_validation: bool = False) -> Any: ...

    def new_job(self, data: Any, delay: Any, priority: int, ttl: Any, now_ms: int) -> Any: ...

    async def adispatch_workflow(self, c: Composition, name: str | None, ttl: Any) -> Any: ...


class Composition:
    """What chain, group, chord and signatures share: ``|`` and ``dispatch``."""

    def __or__(self, other: Composition) -> Chain:
        if not isinstance(other, Composition):
            return NotImplemented
        return Chain(*_steps(self), *_steps(other))

    async def adispatch(self, name: str | None = None, ttl: Any = None) -> Any:
        """Store the workflow and enqueue its first nodes; the handle follows it.

        Args:
            name: a label shown by the workflow views (default: the first task's name).
            ttl: cancel the workflow if it still runs this long after dispatch (seconds or
                "5m"); workers look once per stall interval, so it ends within one of the
                deadline. Each node keeps its task's own TTL as well.

        Raises:
            UsageError: an unbound signature starts the workflow, or bad bound data.
            ValidationError: bound data breaks its task's ``input`` schema.
            ConfigError: the app's serializer is not JSON (workflows splice JSON results).
            ServerError: the server cannot be reached.

        Returns:
            A :class:`~taskora_cli.workflow.WorkflowHandle`.
        """
        return await first_task(self).adispatch_workflow(self, name, ttl)

    def dispatch(self, name: str | None = None, ttl: Any = None) -> Any:
        """The blocking twin of :meth:`adispatch` (returns a WorkflowHandle)."""
        return first_task(self).runtime.call(self.adispatch(name, ttl))


@dataclass(frozen=True, eq=False)
class Signature(Composition):
    """One task invocation: bound (``task.s(data)``) or fed by the previous step (``task.s()``)."""

    task: Task
    data: Any = None
    bound: bool = False

    def __repr__(self) -> str:
        return f"{self.task.name}.s({self.data!r})" if self.bound else f"{self.task.name}.s()"


@dataclass(frozen=True, init=False, eq=False)
class Chain(Composition):
    """Steps run one after another, each receiving the previous step's output."""

    steps: tuple[Composition, ...]

    def __init__(self, *steps: Composition) -> None:
        object.__setattr__(self, "steps", _checked("chain", steps))


@dataclass(frozen=True, init=False, eq=False)
class Group(Composition):
    """Members run in parallel; the output is the list of their results, in member order."""

    members: tuple[Composition, ...]

    def __init__(self, *members: Composition) -> None:
        if len(members) == 1 and not isinstance(members[0], Composition):
            members = tuple(members[0])  # group([a, b]) as well as group(a, b)
        object.__setattr__(self, "members", _checked("group", members))


@dataclass(frozen=True, init=False, eq=False)
class Chord(Composition):
    """A group, then ``callback`` on the list of its results."""

    header: Group
    callback: Composition

    def __init__(self, header: Iterable[Composition], callback: Composition) -> None:
        object.__setattr__(self, "header", Group(*header))
        object.__setattr__(self, "callback", _checked("chord", (callback,))[0])


@dataclass(frozen=True, init=False, eq=False)
class Chunks(Composition):
    """Groups run one after another (``task.chunk``); the output is every result, in order."""

    groups: tuple[Group, ...]

    def __init__(self, groups: Sequence[Group]) -> None:
        object.__setattr__(self, "groups", tuple(groups))
        if not self.groups:
            raise UsageError("chunk needs at least one item")


def chain(*steps: Composition) -> Chain:
    """Run ``steps`` in sequence; each unbound step gets the previous step's output."""
    return Chain(*steps)


def group(*members: Composition | Iterable[Composition]) -> Group:
    """Run ``members`` in parallel; the output is their results as a list, in order."""
    return Group(*members)  # type: ignore[arg-type]


def chord(header: Iterable[Composition], callback: Composition) -> Chord:
    """Run ``header`` in parallel, then ``callback`` on the list of their results."""
    return Chord(header, callback)


def chunks(task: Task, items: Iterable[Any], size: int = DEFAULT_CHUNK_SIZE) -> Chunks:
    """``task`` on every item, ``size`` at a time: each chunk a parallel group, in sequence."""
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise UsageError(f"chunk size must be an int >= 1, got {size!r}")
    listed = list(items)
    return Chunks(
        [
            Group(*(Signature(task, item, True) for item in listed[start : start + size]))
            for start in range(0, len(listed), size)
        ]
    )


def _steps(c: Composition) -> tuple[Composition, ...]:
    return c.steps if isinstance(c, Chain) else (c,)


def _checked(kind: str, parts: Sequence[Any]) -> tuple[Composition, ...]:
    if not parts:
        raise UsageError(f"{kind} needs at least one member")
    for part in parts:
        if not isinstance(part, Composition):
            raise UsageError(f"{kind} takes signatures (task.s(...)) or compositions, got {part!r}")
    return tuple(parts)


def first_task(c: Composition) -> Task:
    """The task of the first signature in ``c`` (its app runs the workflow)."""
    while not isinstance(c, Signature):
        if isinstance(c, Chain):
            c = c.steps[0]
        elif isinstance(c, Group):
            c = c.members[0]
        elif isinstance(c, Chord):
            c = c.header
        else:
            assert isinstance(c, Chunks)
            c = c.groups[0]
    return c.task


# -- flattening ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Node:
    """One task run of a flattened workflow.

    Attributes:
        index: its place in the graph (0-based; its job id is ``<workflow id>.<index>``).
        task: the task name.
        deps: the nodes it waits for; an unbound node's input comes from them (one: its
            result; several: the list of their results in this order).
        bound: whether it runs on ``data`` rather than its dependencies' output.
        data: the bound data (None when unbound).
    """

    index: int
    task: str
    deps: tuple[int, ...]
    bound: bool
    data: Any = None


@dataclass(slots=True)
class Graph:
    """A flattened workflow: its nodes (dependencies before dependents) and the nodes whose
    results make its result (one: that result; several: the list, in order)."""

    nodes: list[Node] = field(default_factory=list)
    outputs: tuple[int, ...] = ()
    tasks: dict[str, Task] = field(default_factory=dict)
    """Task name -> the Task object (for encoding bound data and its job options)."""

    @property
    def roots(self) -> list[Node]:
        """The nodes that wait for nothing: enqueued at dispatch."""
        return [n for n in self.nodes if not n.deps]

    def dependents(self) -> list[list[int]]:
        """For each node, the nodes that wait for it."""
        found: list[list[int]] = [[] for _ in self.nodes]
        for node in self.nodes:
            for dep in node.deps:
                found[dep].append(node.index)
        return found


def flatten(c: Composition) -> Graph:
    """The graph of ``c``: nodes in an order where dependencies come first.

    Raises:
        UsageError: an unbound signature would start the workflow (it has no input).
    """
    graph = Graph()
    graph.outputs = tuple(_flatten(c, (), graph))
    return graph


def _flatten(c: Composition, before: tuple[int, ...], graph: Graph) -> list[int]:
    """Add ``c`` after the nodes ``before``; returns the nodes whose results are its output."""
    if isinstance(c, Signature):
        if not c.bound and not before:
            raise UsageError(
                f"{c!r} would start the workflow without input: the first step must be bound "
                "(task.s(data))"
            )
        graph.tasks[c.task.name] = c.task
        node = Node(len(graph.nodes), c.task.name, before, c.bound, c.data)
        graph.nodes.append(node)
        return [node.index]
    if isinstance(c, Chain):
        out = list(before)
        for step in c.steps:
            out = _flatten(step, tuple(out), graph)
        return out
    if isinstance(c, Group):
        out = []
        for member in c.members:
            out += _flatten(member, before, graph)
        return out
    if isinstance(c, Chord):
        return _flatten(c.callback, tuple(_flatten(c.header, before, graph)), graph)
    assert isinstance(c, Chunks)
    everything: list[int] = []
    after = before
    for chunk in c.groups:
        out = _flatten(chunk, after, graph)
        everything += out
        after = tuple(out)
    return everything
