"""The test side of the fault suite: start worker and dispatcher processes, read their journals,
and ask the server what became of each job."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import redis

from taskora_cli.engine.keys import TaskKeys
from taskora_cli.engine.records import job_state

REPO = Path(__file__).resolve().parents[2]
PROCS = Path(__file__).with_name("fault_procs.py")
NO_RETENTION = """\
# Every finished job is kept, so the test can count them all.
[retention]
completed_max_age = false
completed_max_items = false
failed_max_age = false
failed_max_items = false
"""


@dataclass
class Journal:
    """What the processes wrote to one journal file (see fault_procs.py)."""

    starts: Counter[str] = field(default_factory=Counter)
    ends: Counter[str] = field(default_factory=Counter)
    acks: dict[str, float] = field(default_factory=dict)

    @classmethod
    def read(cls, *paths: Path) -> Journal:
        journal = cls()
        for path in paths:
            if not path.exists():
                continue
            for line in path.read_text().splitlines():
                kind, job_id, *rest = line.split()
                if kind == "S":
                    journal.starts[job_id] += 1
                elif kind == "E":
                    journal.ends[job_id] += 1
                elif kind == "A":
                    journal.acks[job_id] = float(rest[0])
        return journal


@dataclass
class Fleet:
    """Processes a test starts; whatever is still alive at teardown is killed."""

    root: Path
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TASKORA_")}
        return {**env, "PYTHONPATH": str(REPO)}

    def spawn(self, args: list[str], name: str) -> subprocess.Popen[bytes]:
        log = self.root / f"{name}.log"
        with log.open("wb") as stderr:  # the child keeps its own copy of the descriptor
            process = subprocess.Popen(
                args,
                cwd=self.root,
                env=self.env(),
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
        process.log = log  # type: ignore[attr-defined]
        self.processes.append(process)
        return process

    def worker(self, url: str, journal: Path, *options: str, name: str = "worker") -> Worker:
        """A library worker process (fault_procs.py), started: it has logged 'started for'."""
        args = [sys.executable, str(PROCS), "worker", url, str(self.root), str(journal)]
        process = self.spawn([*args, *options], name)
        wait_for(lambda: started(process), 30, f"{name} to start")
        return Worker(process)

    def taskora_work(self, *options: str, name: str = "work") -> subprocess.Popen[bytes]:
        """The real ``taskora work`` in this folder (its taskora.toml names the server)."""
        return self.spawn([sys.executable, "-m", "taskora_cli", "work", *options], name)

    def dispatcher(self, url: str, journal: Path, *options: str, name: str) -> Dispatcher:
        args = [sys.executable, str(PROCS), "dispatch", url, str(self.root), str(journal)]
        return Dispatcher(self.spawn([*args, *options], name), journal)

    def kill_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
        for process in self.processes:
            process.wait(10)


@dataclass
class Worker:
    process: subprocess.Popen[bytes]

    @property
    def pid(self) -> int:
        return self.process.pid

    def log(self) -> str:
        return log_of(self.process)


@dataclass
class Dispatcher:
    process: subprocess.Popen[bytes]
    journal: Path

    def acked(self) -> int:
        return len(Journal.read(self.journal).acks)

    def finish(self, timeout: float) -> None:
        code = self.process.wait(timeout)
        assert code == 0, f"dispatcher exited {code}:\n{log_of(self.process)[-3000:]}"


def log_of(process: subprocess.Popen[bytes]) -> str:
    log: Path = process.log  # type: ignore[attr-defined]
    return log.read_text(errors="replace")


def started(process: subprocess.Popen[bytes], count: int = 1) -> bool:
    if process.poll() is not None:
        raise AssertionError(f"process exited {process.returncode}:\n{log_of(process)[-3000:]}")
    return log_of(process).count("started for") >= count


def wait_for(
    condition: Callable[[], bool],
    timeout: float,
    what: str,
    explain: Callable[[], object] | None = None,
) -> None:
    """Poll ``condition`` every 20 ms; fail naming ``what`` (and what ``explain`` returns, the
    state of things) after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            detail = f": {explain()}" if explain is not None else ""
            raise AssertionError(f"timed out after {timeout}s waiting for {what}{detail}")
        time.sleep(0.02)


def sigkill(pid: int) -> None:
    os.kill(pid, signal.SIGKILL)


class Server:
    """Plain reads of job states, with a client of its own (never the code under test)."""

    def __init__(self, url: str) -> None:
        self.client = redis.Redis.from_url(url, decode_responses=True)

    def close(self) -> None:
        self.client.close()

    def state_of(self, task: str, ids: list[str]) -> dict[str, str]:
        """Each job's state ("missing" for ids the server lacks)."""
        keys = TaskKeys("", task)
        pipe = self.client.pipeline(transaction=False)
        for job_id in ids:
            pipe.hmget(keys.job(job_id), "state", "t")
        found = pipe.execute()
        return {i: job_state(*fields) or "missing" for i, fields in zip(ids, found, strict=True)}

    def states(self, task: str, ids: list[str]) -> Counter[str]:
        """How many of ``ids`` are in each state ("missing" for ids the server lacks)."""
        return Counter(self.state_of(task, ids).values())

    def job(self, task: str, job_id: str) -> dict[str, str]:
        return self.client.hgetall(TaskKeys("", task).job(job_id))  # type: ignore[return-value]

    def completed(self, task: str) -> int:
        return int(self.client.zcard(TaskKeys("", task).completed))

    def active(self, task: str) -> int:
        return int(self.client.zcard(TaskKeys("", task).active))

    def completion_events(self, task: str) -> Counter[str]:
        """How often each job was announced completed on the event stream."""
        counted: Counter[str] = Counter()
        for _, fields in self.client.xrange(TaskKeys("", task).events):
            if fields.get("event") == "completed":
                counted.update(fields["job"].split())
        return counted


@dataclass
class Kill:
    """What the server held at the moment a worker was killed: nothing acks after a kill, so
    ``finished`` is exactly what had completed, and ``in_flight`` what had started besides."""

    finished: set[str]
    in_flight: set[str]

    @classmethod
    def snapshot(cls, server: Server, task: str, ids: list[str], journal: Path) -> Kill:
        states = server.state_of(task, ids)
        finished = {i for i, state in states.items() if state == "completed"}
        return cls(finished, set(Journal.read(journal).starts) - finished)


def assert_each_completed_once(
    server: Server, task: str, ids: list[str], journal: Path, kill: Kill
) -> None:
    """Every job completed, announced once; a job that had finished before the kill never
    started again, one in flight started at most once more, and no other job twice."""
    starts = Journal.read(journal).starts
    completions = server.completion_events(task)
    reruns = sum(1 for i in kill.in_flight if starts[i] > 1)
    print(f"\nfinished before the kill: {len(kill.finished)}, in flight: {len(kill.in_flight)}, "
          f"run again: {reruns}")  # fmt: skip
    assert server.states(task, ids) == {"completed": len(ids)}
    assert server.active(task) == 0
    assert set(completions) == set(ids) and set(completions.values()) == {1}
    assert [i for i in kill.finished if starts[i] != 1] == []
    assert [i for i in kill.in_flight if starts[i] > 2] == []
    assert [i for i in ids if starts[i] != 1 and i not in kill.in_flight] == []
