"""The child side of the fault suite: worker and dispatcher processes the tests kill.

Run as ``python fault_procs.py worker|dispatch ...``. Every process appends what it did to a journal
file opened with O_APPEND, one short line per write (atomic on a local file system, so many
processes may share one journal): the test reads the journals after the fault and counts.

Journal lines:
    S <job id> <attempt> <pid>    a handler started
    E <job id> <attempt> <pid>    a handler finished (its ack may still be lost)
    A <job id> <unix time>        a dispatch was acknowledged by the server
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

# The end-to-end helpers: the same app construction as tests/integration (config from `root`).
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
from support import make_app

from taskora_cli import Retry, Taskora

ASYNC_TASK = "fault-async"
THREAD_TASK = "fault-thread"


class Journal:
    """Append-only lines shared by processes (O_APPEND: each write lands whole)."""

    def __init__(self, path: str) -> None:
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def write(self, *fields: object) -> None:
        os.write(self.fd, (" ".join(str(f) for f in fields) + "\n").encode())


def build_app(url: str, root: str, journal: Journal | None) -> Taskora:
    """The fault suite's app: one async and one thread task that journal their runs.

    A job's data is ``{"sleep": seconds}``; the handlers sleep that long (interruptibly for the
    async one), so a test chooses how long jobs stay in flight. With ``"once": true`` only the
    job's first run sleeps (a marker file in ``root`` remembers it), so a rerun ends at once."""
    app = make_app(url, Path(root))

    def seconds(data: dict[str, Any], job_id: str) -> float:
        if data.get("once"):
            marker = Path(root) / f"ran-{job_id}"
            if marker.exists():
                return 0.0
            marker.touch()
        return float(data.get("sleep", 0))

    @app.task(ASYNC_TASK, retry=Retry(attempts=1))
    async def fault_async(data: dict[str, Any], ctx: Any) -> str:
        if journal is not None:
            journal.write("S", ctx.id, ctx.attempt, os.getpid())
        await asyncio.sleep(seconds(data, ctx.id))
        if journal is not None:
            journal.write("E", ctx.id, ctx.attempt, os.getpid())
        return str(ctx.id)

    @app.task(THREAD_TASK, retry=Retry(attempts=1))
    def fault_thread(data: dict[str, Any], ctx: Any) -> str:
        if journal is not None:
            journal.write("S", ctx.id, ctx.attempt, os.getpid())
        time.sleep(seconds(data, ctx.id))
        if journal is not None:
            journal.write("E", ctx.id, ctx.attempt, os.getpid())
        return str(ctx.id)

    return app


def run_worker(args: argparse.Namespace) -> None:
    """What ``taskora work`` does (serve, then leave at once if handlers were abandoned), with
    lock and stall windows short enough for a test to see recovery within seconds."""
    from taskora_cli.worker.pool import Worker
    from taskora_cli.worker.serve import serve

    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
    app = build_app(args.url, args.root, Journal(args.journal))
    worker = Worker(
        app,
        [app.get_task(name) for name in args.tasks.split(",")],
        concurrency=args.concurrency,
        lock_ttl_ms=args.lock_ttl_ms,
        heartbeat_ms=args.heartbeat_ms,
        stall_interval_ms=args.stall_ms,
    )
    abandoned = asyncio.run(serve(worker, args.grace_ms))
    if abandoned:  # as taskora work does: threads still running must not hold the exit
        logging.shutdown()
        os._exit(0)


async def dispatch_loop(args: argparse.Namespace) -> None:
    """Dispatch batches of ``--batch`` jobs until ``--count`` are acknowledged or the stop file
    appears; journal each acknowledged id with the time its acknowledgement arrived."""
    journal = Journal(args.journal)
    app = build_app(args.url, args.root, None)
    task = app.get_task(args.task)
    stop = Path(args.stop_file) if args.stop_file else None
    acked = 0
    while args.count is None or acked < args.count:
        if stop is not None and stop.exists():
            break
        size = args.batch if args.count is None else min(args.batch, args.count - acked)
        items = [{"sleep": args.sleep}] * size
        if size == 1:
            handles = [await task.adispatch(items[0])]
        else:
            handles = await task.adispatch_many(items)
        now = time.time()
        lines = "".join(f"A {h.id} {now:.6f}\n" for h in handles if h.enqueued)
        os.write(journal.fd, lines.encode())
        acked += len(handles)
        if args.pause:
            await asyncio.sleep(args.pause)
    await app.aclose()


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="role", required=True)
    for role in ("worker", "dispatch"):
        p = sub.add_parser(role)
        p.add_argument("url")
        p.add_argument("root", help="a folder whose taskora.toml (if any) configures the app")
        p.add_argument("journal")
    w = sub.choices["worker"]
    w.add_argument("--tasks", default=ASYNC_TASK)
    w.add_argument("--concurrency", type=int, default=8)
    w.add_argument("--lock-ttl-ms", type=int, default=500)
    w.add_argument("--heartbeat-ms", type=int, default=100)
    w.add_argument("--stall-ms", type=int, default=100)
    w.add_argument("--grace-ms", type=int, default=5000)
    d = sub.choices["dispatch"]
    d.add_argument("--task", default=ASYNC_TASK)
    d.add_argument("--count", type=int, default=None)
    d.add_argument("--batch", type=int, default=1)
    d.add_argument("--sleep", type=float, default=0.0)
    d.add_argument("--pause", type=float, default=0.0)
    d.add_argument("--stop-file", default=None)
    args = parser.parse_args()
    if args.role == "worker":
        run_worker(args)
    else:
        asyncio.run(dispatch_loop(args))


if __name__ == "__main__":
    main()
