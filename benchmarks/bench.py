"""taskora benchmarks: enqueue and processing throughput, latency, memory.

Run by hand from the repository root:

    python benchmarks/bench.py                      # every workload, on a fresh embedded server
    python benchmarks/bench.py --only enqueue-single,latency
    python benchmarks/bench.py --json               # machine-readable output
    python benchmarks/bench.py --repeat 3 --save out.json   # median of 3 runs, JSON kept too
    python benchmarks/bench.py --url redis://localhost:6379/15   # another (scratch!) server

Every workload starts from FLUSHALL, so never point --url at a server holding data you need.
Worker workloads run the worker in a subprocess (benchmarks/bench_worker.py) with a no-op
async handler; processing time runs from the moment the worker reports itself started (after
``app.start()``) to the N-th handler start, measured inside the worker.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import platform
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from taskora_cli import Taskora  # noqa: E402
from taskora_cli.config import Config  # noqa: E402

TASK = "bench-noop"
WARMUP_TASK = "bench-warmup"
PAD = "x" * 80


def payload(i: int) -> dict[str, Any]:
    """~100 bytes of JSON: {"i": 1234, "pad": "xxxx...x"}."""
    return {"i": i, "pad": PAD}


# -- results ---------------------------------------------------------------------------------


@dataclass
class Metric:
    name: str
    value: float | None
    unit: str
    note: str = ""


@dataclass
class Result:
    workload: str
    metrics: list[Metric] = field(default_factory=list)
    server_cpu_s: float | None = None
    wall_s: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    def add(self, name: str, value: float | None, unit: str, note: str = "") -> None:
        self.metrics.append(Metric(name, value, unit, note))


# -- the server ------------------------------------------------------------------------------


class Server:
    """The server under test: FLUSHALL, INFO, and the CPU time of its process if local."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.client = redis.Redis.from_url(url, decode_responses=True, socket_timeout=30)
        info = self.client.info("server")
        self.version = info.get("valkey_version") or info.get("redis_version")
        self.pid = self._local_pid(info.get("process_id"))
        self._tick = os.sysconf("SC_CLK_TCK")

    @staticmethod
    def _local_pid(pid: Any) -> int | None:
        try:
            comm = Path(f"/proc/{int(pid)}/comm").read_text().strip()
        except (OSError, TypeError, ValueError):
            return None
        return int(pid) if ("valkey" in comm or "redis" in comm) else None

    def cpu_s(self) -> float | None:
        """utime + stime of the server process, or None if it is not a local process."""
        if self.pid is None:
            return None
        try:
            fields = Path(f"/proc/{self.pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / self._tick

    def reset_stats(self) -> None:
        self.client.config_resetstat()

    def top_commands(self, limit: int = 8) -> list[dict[str, Any]]:
        """The commands (including those run inside scripts) that took most server time."""
        stats = self.client.info("commandstats")
        rows: list[dict[str, Any]] = [
            {
                "cmd": key.removeprefix("cmdstat_"),
                "calls": int(v["calls"]),
                "usec": int(v["usec"]),
                "usec_per_call": float(v["usec_per_call"]),
            }
            for key, v in stats.items()
            if isinstance(v, dict) and "usec" in v
        ]
        return sorted(rows, key=lambda r: -r["usec"])[:limit]

    def flushall(self) -> None:
        # SYNC: with lazyfree-lazy-user-flush (Valkey's default) a plain FLUSHALL frees in the
        # background, and the memory it is still freeing would blur the next measurement.
        self.client.execute_command("FLUSHALL", "SYNC")

    def memory(self) -> dict[str, int]:
        deadline = time.monotonic() + 10
        info = self.client.info("memory")
        while int(info.get("lazyfree_pending_objects", 0)) and time.monotonic() < deadline:
            time.sleep(0.01)
            info = self.client.info("memory")
        return {k: int(info[k]) for k in ("used_memory", "used_memory_dataset") if k in info}

    def counts(self) -> dict[str, int]:
        tag = f"taskora:{{{TASK}}}:"
        pipe = self.client.pipeline(transaction=False)
        pipe.llen(tag + "wait")
        pipe.zcard(tag + "active")
        pipe.zcard(tag + "completed")
        pipe.zcard(tag + "failed")
        wait, active, completed, failed = pipe.execute()
        return {"waiting": wait, "active": active, "completed": completed, "failed": failed}

    def close(self) -> None:
        self.client.close()


class CpuMeter:
    """Server CPU seconds, and per-command server time, between start() and stop()."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.begin: float | None = None
        self.used: float | None = None
        self.commands: list[dict[str, Any]] = []

    def start(self) -> None:
        with contextlib.suppress(redis.RedisError):
            self.server.reset_stats()
        self.begin = self.server.cpu_s()

    def stop(self) -> float | None:
        end = self.server.cpu_s()
        if self.begin is not None and end is not None:
            self.used = end - self.begin
        with contextlib.suppress(redis.RedisError):
            self.commands = self.server.top_commands()
        return self.used

    def into(self, res: Result) -> None:
        res.server_cpu_s = self.used
        res.extra["server_top_commands"] = self.commands


# -- helpers ---------------------------------------------------------------------------------


def new_app(url: str) -> Taskora:
    # An explicit Config: no taskora.toml / TASKORA_* discovery changes what is measured.
    app = Taskora(config=Config(url=url))

    @app.task(TASK)
    async def noop(data: Any) -> None:  # never run in this process
        return None

    @app.task(WARMUP_TASK)
    async def warmup(data: Any) -> None:
        return None

    return app


async def warm_up(app: Taskora) -> None:
    """Connect, handshake, load scripts, register: so timed loops measure steady state only."""
    await app.get_task(WARMUP_TASK).adispatch({"warm": True})
    await app.get_task(WARMUP_TASK).adispatch_many([{"warm": True}])
    await app.get_task(TASK).adispatch_many([])  # registers TASK on this engine, enqueues none


async def prefill(app: Taskora, n: int, batch: int = 1000) -> None:
    task = app.get_task(TASK)
    for start in range(0, n, batch):
        await task.adispatch_many([payload(i) for i in range(start, min(n, start + batch))])


def run_async(coro_fn: Callable[[], Coroutine[Any, Any, Any]], timeout: float) -> Any:
    async def bounded() -> Any:
        return await asyncio.wait_for(coro_fn(), timeout)

    return asyncio.run(bounded())


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


class WorkerProcess:
    """bench_worker.py in a subprocess; its stdout JSON lines arrive on a queue."""

    def __init__(
        self,
        url: str,
        concurrency: int,
        n: int,
        *,
        mode: str = "throughput",
        samples: Path | None = None,
        deadline: float = 120.0,
    ) -> None:
        self.stderr = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 - closed in close()
        cmd = [
            sys.executable,
            str(HERE / "bench_worker.py"),
            "--url",
            url,
            "--concurrency",
            str(concurrency),
            "--n",
            str(n),
            "--mode",
            mode,
            "--deadline",
            str(deadline),
        ]
        if samples is not None:
            cmd += ["--samples", str(samples)]
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
        env["PYTHONUNBUFFERED"] = "1"
        self.proc = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            stdin=subprocess.DEVNULL,
            text=True,
            env=env,
            cwd=str(ROOT),
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def expect(self, event: str, timeout: float) -> dict[str, Any]:
        """The next JSON line with this event; raises on EOF or deadline."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise RuntimeError(f"worker: no {event!r} within {timeout:g}s{self._tail()}")
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                self.proc.wait(timeout=5)
                raise RuntimeError(
                    f"worker exited ({self.proc.returncode}) before {event!r}{self._tail()}"
                )
            try:
                msg = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(msg, dict) and msg.get("event") == event:
                return msg

    def _tail(self) -> str:
        try:
            self.stderr.seek(0)
            text = self.stderr.read()
        except (OSError, ValueError):
            return ""
        lines = [ln for ln in text.splitlines() if ln.strip()][-15:]
        return ("\n  stderr:\n  | " + "\n  | ".join(lines)) if lines else ""

    def close(self) -> None:
        """Make sure the process is gone (TERM, then KILL)."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self._reader.join(timeout=5)
        self.stderr.close()


# -- workloads -------------------------------------------------------------------------------


def w_enqueue_single(srv: Server, n: int = 10_000) -> Result:
    res = Result("enqueue-single")
    cpu = CpuMeter(srv)

    async def body() -> float:
        app = new_app(srv.url)
        try:
            await warm_up(app)
            task = app.get_task(TASK)
            cpu.start()
            t0 = time.perf_counter()
            for i in range(n):
                await task.adispatch(payload(i))
            elapsed = time.perf_counter() - t0
            cpu.stop()
            return elapsed
        finally:
            await app.aclose()

    c0 = time.process_time()
    elapsed = run_async(body, timeout=300)
    client_cpu = time.process_time() - c0
    res.wall_s = elapsed
    cpu.into(res)
    res.add("throughput", n / elapsed, "jobs/s", f"{n:,} x adispatch, one at a time")
    res.add("per call", elapsed / n * 1e6, "µs")
    res.extra["client_cpu_s"] = client_cpu
    res.extra["queued_after"] = srv.counts()["waiting"]
    return res


def w_enqueue_bulk(srv: Server, n: int = 50_000, batch: int = 50) -> Result:
    res = Result("enqueue-bulk")
    cpu = CpuMeter(srv)

    async def body() -> float:
        app = new_app(srv.url)
        try:
            await warm_up(app)
            task = app.get_task(TASK)
            batches = [
                [payload(i) for i in range(s, min(n, s + batch))] for s in range(0, n, batch)
            ]
            cpu.start()
            t0 = time.perf_counter()
            for items in batches:
                await task.adispatch_many(items)
            elapsed = time.perf_counter() - t0
            cpu.stop()
            return elapsed
        finally:
            await app.aclose()

    c0 = time.process_time()
    elapsed = run_async(body, timeout=300)
    res.extra["client_cpu_s"] = time.process_time() - c0
    res.wall_s = elapsed
    cpu.into(res)
    res.add("throughput", n / elapsed, "jobs/s", f"{n:,} in adispatch_many batches of {batch}")
    res.extra["queued_after"] = srv.counts()["waiting"]
    return res


def w_process(srv: Server, name: str, n: int, concurrency: int) -> Result:
    res = Result(name)
    run_async(lambda: _prefill_and_close(srv.url, n), timeout=300)
    queued = srv.counts()["waiting"]
    if queued != n:
        raise RuntimeError(f"prefill left {queued} waiting jobs, expected {n}")
    cpu = CpuMeter(srv)
    worker = WorkerProcess(srv.url, concurrency, n, deadline=240)
    try:
        started = worker.expect("started", timeout=60)
        cpu.start()
        done = worker.expect("done", timeout=300)
        cpu.stop()
        worker.proc.wait(timeout=30)
    finally:
        worker.close()
    if done["timed_out"] or done["nth_start_s"] is None:
        raise RuntimeError(f"worker saw only {done['seen']}/{n} starts before its deadline")
    elapsed = done["nth_start_s"]
    res.wall_s = elapsed
    cpu.into(res)
    res.add(
        "throughput",
        n / elapsed,
        "jobs/s",
        f"{n:,} prefilled, concurrency {concurrency}, start -> {n:,}th handler start",
    )
    if done.get("hwm_kib") is not None:
        res.add("worker peak RSS", done["hwm_kib"] / 1024, "MiB", "VmHWM of the worker process")
    else:
        res.add(
            "worker peak RSS",
            done["maxrss_kib"] / 1024,
            "MiB",
            "ru_maxrss (may include the parent's RSS at fork)",
        )
    res.extra.update(
        connect_s=started["connect_s"],
        first_start_ms=done["first_start_s"] * 1000 if done["first_start_s"] is not None else None,
        duplicates=done["duplicates"],
        unique=done["unique"],
        worker_cpu_s=done["cpu_user_s"] + done["cpu_sys_s"],
        worker_ru_maxrss_mib=done["maxrss_kib"] / 1024,
        stop_s=done["stop_s"],
        counts_after_stop=srv.counts(),
    )
    if done["duplicates"]:
        res.add("duplicate starts", done["duplicates"], "jobs", "a job's handler started twice")
    return res


async def _prefill_and_close(url: str, n: int) -> None:
    app = new_app(url)
    try:
        await prefill(app, n)
    finally:
        await app.aclose()


def w_latency(srv: Server, n: int = 2_000, rate: float = 500.0, concurrency: int = 10) -> Result:
    res = Result("latency")
    samples_path = Path(tempfile.mkstemp(prefix="taskora-bench-lat-", suffix=".json")[1])
    cpu = CpuMeter(srv)
    behind: list[float] = []

    async def produce() -> float:
        app = new_app(srv.url)
        try:
            await warm_up(app)
            task = app.get_task(TASK)
            loop = asyncio.get_running_loop()
            t0 = loop.time()
            for i in range(n):
                target = t0 + i / rate  # a deadline schedule: no drift from slow iterations
                delay = target - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                else:
                    behind.append(-delay)
                await task.adispatch({"i": i, "t": time.time(), "pad": "x" * 60})
            return loop.time() - t0
        finally:
            await app.aclose()

    worker = WorkerProcess(
        srv.url, concurrency, n, mode="latency", samples=samples_path, deadline=n / rate + 120
    )
    try:
        worker.expect("started", timeout=60)
        cpu.start()
        produce_s = run_async(produce, timeout=n / rate + 120)
        done = worker.expect("done", timeout=180)
        cpu.stop()
        worker.proc.wait(timeout=30)
        raw = samples_path.read_text() if samples_path.exists() else "[]"
        samples = sorted(json.loads(raw or "[]"))
    finally:
        worker.close()
        samples_path.unlink(missing_ok=True)
    if len(samples) < n:
        raise RuntimeError(
            f"only {len(samples)}/{n} latency samples (timed out: {done['timed_out']})"
        )
    res.wall_s = produce_s
    cpu.into(res)
    note = f"{n:,} jobs at {rate:g}/s, worker concurrency {concurrency}"
    res.add("p50", percentile(samples, 50) * 1000, "ms", note)
    res.add("p95", percentile(samples, 95) * 1000, "ms")
    res.add("p99", percentile(samples, 99) * 1000, "ms")
    res.add("max", samples[-1] * 1000, "ms")
    res.extra.update(
        achieved_rate=n / produce_s,
        producer_behind_count=len(behind),
        producer_behind_max_ms=max(behind) * 1000 if behind else 0.0,
        min_ms=samples[0] * 1000,
        mean_ms=sum(samples) / len(samples) * 1000,
        duplicates=done["duplicates"],
        worker_peak_rss_mib=(done.get("hwm_kib") or done["maxrss_kib"]) / 1024,
    )
    return res


def w_memory(srv: Server, n: int = 10_000) -> Result:
    res = Result("memory")
    cpu = CpuMeter(srv)

    async def body() -> tuple[dict[str, int], dict[str, int]]:
        app = new_app(srv.url)
        try:
            await warm_up(app)  # meta record, registry, scripts: not per-job costs
            task = app.get_task(TASK)
            before = srv.memory()
            cpu.start()
            for i in range(n):
                await task.adispatch(payload(i))
            cpu.stop()
            return before, srv.memory()
        finally:
            await app.aclose()

    before, after = run_async(body, timeout=300)
    per_job = (after["used_memory"] - before["used_memory"]) / n
    cpu.into(res)
    res.add("server bytes/job", per_job, "B", f"INFO used_memory delta over {n:,} queued jobs")
    if "used_memory_dataset" in before:
        res.add(
            "dataset bytes/job",
            (after["used_memory_dataset"] - before["used_memory_dataset"]) / n,
            "B",
            "used_memory_dataset delta (excludes overheads, e.g. AOF buffers)",
        )
    tag = f"taskora:{{{TASK}}}:"
    sample_id = str(srv.client.lindex(tag + "wait", 0) or "")
    res.extra.update(
        used_memory_before=before,
        used_memory_after=after,
        one_job_hash_bytes=srv.client.memory_usage(f"{tag}j:{sample_id}") if sample_id else None,
        one_job_hash_encoding=srv.client.object("encoding", f"{tag}j:{sample_id}")
        if sample_id
        else None,
        wait_list_bytes=srv.client.memory_usage(tag + "wait"),
        events_stream_bytes=srv.client.memory_usage(tag + "events"),
        events_stream_len=srv.client.xlen(tag + "events"),
        payload_bytes=len(json.dumps(payload(0), separators=(",", ":"))),
    )
    return res


WORKLOADS: dict[str, Callable[[Server], Result]] = {
    "enqueue-single": w_enqueue_single,
    "enqueue-bulk": w_enqueue_bulk,
    "process-c1": lambda s: w_process(s, "process-c1", 10_000, 1),
    "process-c100": lambda s: w_process(s, "process-c100", 20_000, 100),
    "latency": w_latency,
    "memory": w_memory,
}


def run_workload(srv: Server, name: str, repeat: int, *, quiet: bool) -> Result:
    """Run one workload ``repeat`` times from an empty server; the median run is reported."""
    runs: list[Result] = []
    for attempt in range(max(1, repeat)):
        srv.flushall()
        if not quiet:
            suffix = f" (run {attempt + 1}/{repeat})" if repeat > 1 else ""
            print(f"running {name}{suffix} ...", file=sys.stderr, flush=True)
        try:
            runs.append(WORKLOADS[name](srv))
        except Exception as exc:  # one failed workload must not hide the rest
            return Result(name, error=f"{type(exc).__name__}: {exc}")
    if len(runs) == 1:
        return runs[0]
    runs.sort(key=lambda r: r.metrics[0].value or 0.0)
    chosen = runs[(len(runs) - 1) // 2]
    chosen.extra["runs"] = [r.metrics[0].value for r in runs]
    chosen.metrics[0].note += f" (median of {len(runs)})"
    return chosen


# -- output ----------------------------------------------------------------------------------


def fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def print_table(results: list[Result], meta: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"taskora benchmarks — {meta['server']} on {meta['host']}")
    table.add_column("workload", no_wrap=True)
    table.add_column("metric", no_wrap=True)
    table.add_column("value", justify="right")
    table.add_column("unit")
    table.add_column("server CPU", justify="right")
    table.add_column("notes", overflow="fold")
    for r in results:
        if r.error:
            table.add_row(r.workload, "[red]error", "-", "", "", r.error.splitlines()[0][:200])
            continue
        cpu = "-"
        if r.server_cpu_s is not None:
            cpu = f"{r.server_cpu_s:.2f}s"
            if r.wall_s:
                cpu += f" ({100 * r.server_cpu_s / r.wall_s:.0f}%)"
        for i, m in enumerate(r.metrics):
            table.add_row(
                r.workload if i == 0 else "",
                m.name,
                fmt(m.value),
                m.unit,
                cpu if i == 0 else "",
                m.note,
            )
        table.add_section()
    console = Console()
    if not console.is_terminal:
        console = Console(width=160)  # piped to a file: don't squeeze to 80 columns
    console.print(table)


def to_json(results: list[Result], meta: dict[str, Any]) -> str:
    return json.dumps(
        {
            "meta": meta,
            "results": [
                {
                    "workload": r.workload,
                    "error": r.error,
                    "metrics": {m.name: {"value": m.value, "unit": m.unit} for m in r.metrics},
                    "server_cpu_s": r.server_cpu_s,
                    "wall_s": r.wall_s,
                    "extra": r.extra,
                }
                for r in results
            ],
        },
        indent=2,
    )


# -- main ------------------------------------------------------------------------------------


def main() -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--only", default="", help=f"comma-separated subset of: {', '.join(WORKLOADS)}")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--save", default=None, help="also write the JSON output to this file")
    p.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="run each workload N times and report the median run (by its first metric)",
    )
    p.add_argument(
        "--url",
        default=None,
        help="use this server instead of a fresh embedded one (it is FLUSHALLed!)",
    )
    args = p.parse_args()

    chosen = [w.strip() for w in args.only.split(",") if w.strip()] or list(WORKLOADS)
    unknown = [w for w in chosen if w not in WORKLOADS]
    if unknown:
        p.error(f"unknown workload(s) {', '.join(unknown)}; choose from {', '.join(WORKLOADS)}")

    state_dir: Path | None = None
    url = args.url
    if url is None:
        from taskora_cli.engine.embedded import ensure_embedded

        state_dir = Path(tempfile.mkdtemp(prefix="taskora-bench-"))
        url = ensure_embedded(state_dir)
    results: list[Result] = []
    srv: Server | None = None
    try:
        try:
            srv = Server(url)
        except redis.RedisError as exc:
            print(f"bench: cannot use the server at {url}: {exc}", file=sys.stderr)
            return 2
        meta = {
            "server": f"valkey/redis {srv.version}" + (" (embedded)" if state_dir else ""),
            "url": url,
            "host": f"{platform.node()} {platform.machine()}, {os.cpu_count()} CPUs",
            "python": platform.python_version(),
            "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "server_cpu_measured": srv.pid is not None,
        }
        for name in chosen:
            results.append(run_workload(srv, name, args.repeat, quiet=args.json))
        srv.flushall()
    finally:
        if srv is not None:
            srv.close()
        if state_dir is not None:
            from taskora_cli.engine.embedded import stop_embedded

            try:
                stop_embedded(state_dir)
            finally:
                shutil.rmtree(state_dir, ignore_errors=True)
    if args.save:
        Path(args.save).write_text(to_json(results, meta) + "\n")
    if args.json:
        print(to_json(results, meta))
    else:
        print_table(results, meta)
        for r in results:
            if r.error:
                print(f"\n{r.workload} failed:\n{r.error}", file=sys.stderr)
    return 1 if any(r.error for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
