"""What the server knows about each task: its published contract, the live workers that run it,
and how its unfinished jobs spread over payload versions (``Inspector.contracts`` and
``Inspector.migrations``; ``taskora tasks ls/show``).

Read-only: every view is a handful of reads (one HGETALL of the published contracts, the
worker registry, the task registry); :func:`read_migrations` pages through one task's lines.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from .contract_document import ContractDocument, options_document
from .errors import UnknownTaskError, WireFormatError
from .versioning import DEFAULT_VERSION, raisable_since

if TYPE_CHECKING:
    from collections.abc import Mapping

    from .schemas import Schema
    from .task import Task
    from .task_registry import Parts


@dataclass(frozen=True)
class PublishedContract:
    """One task's published contract and the live workers that serve the task.

    Attributes:
        document: the contract as a worker published it.
        workers: ids of the live workers whose task list names it (none: nothing runs its
            jobs right now).
    """

    document: ContractDocument
    workers: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        """The task's name."""
        return self.document.name


@dataclass(frozen=True)
class Contracts:
    """Every published contract, and the tasks the server knows without one.

    Attributes:
        published: the readable contracts, by task name.
        unpublished: task name -> its queue (None: not known here), for tasks known by name
            (registered by a worker or producer, or in this process) that have no contract.
        unpublished_workers: task name -> the live workers serving an unpublished task.
        unreadable: task name -> why its published document was skipped (not JSON, a newer
            format, a field of the wrong type).
    """

    published: list[PublishedContract] = field(default_factory=list)
    unpublished: dict[str, str | None] = field(default_factory=dict)
    unpublished_workers: dict[str, tuple[str, ...]] = field(default_factory=dict)
    unreadable: dict[str, str] = field(default_factory=dict)

    def names(self) -> list[str]:
        """Every task name listed, published or not (unreadable ones too), sorted."""
        return sorted(
            {c.name for c in self.published} | set(self.unpublished) | set(self.unreadable)
        )

    def get(self, name: str) -> PublishedContract | None:
        """The published contract of ``name``, or None."""
        return next((c for c in self.published if c.name == name), None)


Source = Literal["published", "local", "name"]


@dataclass(frozen=True)
class TaskEntry:
    """One task as ``taskora tasks ls/show`` lists it.

    Attributes:
        name: the task's name.
        source: "published" (a worker published its contract), "local" (registered in this
            process, not published), or "name" (known to the server by name only).
        queue: its queue (None: known by name only, with no queue recorded).
        document: its published contract, or one described from the local task; None when
            only the name is known.
        workers: ids of the live workers serving it.
        problem: why its published document could not be read ("" when it could).
    """

    name: str
    source: Source
    queue: str | None
    document: ContractDocument | None
    workers: tuple[str, ...] = ()
    problem: str = ""


def task_entries(contracts: Contracts, local: Mapping[str, Task]) -> list[TaskEntry]:
    """Every task in ``contracts``, sorted by name: a published one with its document, a
    local unpublished one (``local``: the tasks this process registered) described from its
    code, the rest by name."""
    out: list[TaskEntry] = []
    for name in contracts.names():
        published = contracts.get(name)
        if published is not None:
            doc = published.document
            out.append(TaskEntry(name, "published", doc.queue, doc, published.workers))
            continue
        workers = contracts.unpublished_workers.get(name, ())
        problem = contracts.unreadable.get(name, "")
        task = local.get(name)
        if task is not None:
            doc = local_document(task)
            out.append(TaskEntry(name, "local", doc.queue, doc, workers, problem))
        else:
            queue = contracts.unpublished.get(name)
            out.append(TaskEntry(name, "name", queue, None, workers, problem))
    return out


def local_document(task: Task) -> ContractDocument:
    """The contract a task registered in this process would publish (for display: its
    schemas as JSON Schema where they have one)."""
    options = task.options
    return ContractDocument(
        name=task.name,
        queue=options.queue,
        version=options.versioning.version,
        since=options.versioning.since,
        options=options_document(options),
        input_schema=_json_schema(options.input),
        output_schema=_json_schema(options.output),
    )


def _json_schema(schema: Schema | None) -> dict[str, Any] | None:
    if schema is None:
        return None
    try:
        return schema.json_schema()
    except Exception:  # a type JSON Schema cannot express: shown as having none
        return None


VersionSource = Literal["local", "published", "default"]


@dataclass(frozen=True)
class Migrations:
    """How a task's unfinished jobs spread over payload versions, and whether its ``since``
    (the oldest version its workers accept) can be raised without stranding any of them.

    Attributes:
        task: the task's name.
        version / since: the task's payload version and oldest accepted version.
        source: where those come from: "local" (the task registered in this process),
            "published" (its published contract), "default" (neither: version 1).
        waiting / active / delayed: payload version -> how many jobs there carry it.
        raisable_to: the highest ``since`` that strands no job (see
            :func:`~taskora_cli.versioning.raisable_since`).
    """

    task: str
    version: int
    since: int
    source: VersionSource
    waiting: dict[int, int]
    active: dict[int, int]
    delayed: dict[int, int]
    raisable_to: int

    @property
    def can_raise(self) -> bool:
        """``since`` can go up (to :attr:`raisable_to`) and no job would be left behind."""
        return self.raisable_to > self.since

    def total(self) -> dict[int, int]:
        """Version -> jobs, waiting, active and delayed together."""
        out: dict[int, int] = {}
        for place in (self.waiting, self.active, self.delayed):
            for version, n in place.items():
                out[version] = out.get(version, 0) + n
        return dict(sorted(out.items()))

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (versions as string keys, as JSON objects need)."""

        def keyed(counts: dict[int, int]) -> dict[str, int]:
            return {str(version): n for version, n in counts.items()}

        return {
            "task": self.task,
            "version": self.version,
            "since": self.since,
            "source": self.source,
            "waiting": keyed(self.waiting),
            "active": keyed(self.active),
            "delayed": keyed(self.delayed),
            "total": keyed(self.total()),
            "raisable_to": self.raisable_to,
            "can_raise": self.can_raise,
        }


async def read_contracts(app: Parts) -> Contracts:
    """Every published contract with its live workers, and the tasks known without one."""
    from .views.worker_registry import list_workers

    engine = await app.runtime.engine()
    stored = await engine.contracts()
    serving: dict[str, list[str]] = {}
    for worker in await list_workers(app.runtime):
        if not worker.gone:
            for name in worker.tasks:
                serving.setdefault(name, []).append(worker.id)
    out = Contracts()
    for name, text in sorted(stored.items()):
        try:
            document = ContractDocument.from_json(text)
        except WireFormatError as exc:
            out.unreadable[name] = str(exc)
            continue
        out.published.append(PublishedContract(document, tuple(sorted(serving.get(name, ())))))
    queues: dict[str, str | None] = dict(await engine.task_queues())
    for name, task in app.registry.tasks.items():
        queues[name] = task.options.queue
    for name in sorted(queues):
        if name not in stored:
            out.unpublished[name] = queues[name]
            out.unpublished_workers[name] = tuple(sorted(serving.get(name, ())))
    return out


async def read_migrations(app: Parts, task: str) -> Migrations:
    """``task``'s jobs per payload version, its version/since and how far since can go up.

    Raises:
        UnknownTaskError: neither this process, a published contract nor the server's task
            registry knows the name.
    """
    engine = await app.runtime.engine()
    local = app.registry.tasks.get(task)
    source: VersionSource
    if local is not None:
        version, since = local.options.versioning.version, local.options.versioning.since
        source = "local"
    else:
        text = await engine.contract(task)
        document = _readable(text)
        if document is not None:
            version, since, source = document.version, document.since, "published"
        elif text is not None or task in await engine.known_tasks():
            version, since, source = DEFAULT_VERSION, DEFAULT_VERSION, "default"
        else:
            names = set(await app.registry.known_names()) | set(await engine.contracts())
            known = ", ".join(sorted(names)) or "none"
            raise UnknownTaskError(f"unknown task {task!r}; known tasks: {known}")
    counts = await engine.version_counts(task)
    return Migrations(
        task,
        version,
        since,
        source,
        counts.waiting,
        counts.active,
        counts.delayed,
        raisable_since(counts.total(), since, version),
    )


def _readable(text: str | None) -> ContractDocument | None:
    """A published document, or None when there is none or this version cannot read it (then
    the task's version is not known here, and counts as the default)."""
    if text is None:
        return None
    try:
        return ContractDocument.from_json(text)
    except WireFormatError:
        return None
