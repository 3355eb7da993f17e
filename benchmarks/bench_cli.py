"""Start-up cost of the one-shot ``taskora`` commands and of a worker, against ``python -c pass``.

Every call is a fresh process, as from a shell script or a cron wrapper. Each command runs
``--runs`` times (default 50), alternating with the reference ``python -c pass`` so both see
the same machine load; the medians and their ratio are printed, once with ``.pyc`` files as
usual and once with ``PYTHONDONTWRITEBYTECODE=1``.

The worker row is the time to the first handler of a job queued before the worker started:
from exec of ``taskora work``, and "after imports": in a process that first imports every
module a worker has imported by its first job (recorded by a warm-up run), from then on.

Usage::

    python benchmarks/bench_cli.py [--runs 50] [--url redis://...]

Without ``--url`` (or TASKORA_URL) it starts its own embedded server in a temporary folder.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

TASKS = """\
import os, sys, time
from taskora_cli import task


@task("echo")
def echo(data, ctx):
    return data


@task("mail", queue="emails")
def mail(data, ctx):
    return data


@task("first")
def first(data, ctx):
    now = time.time()
    if "BENCH_MODULES" in os.environ:
        with open(os.environ["BENCH_MODULES"], "w") as out:
            out.write(" ".join(sys.modules))  # in the order they were imported
    with open(os.environ["BENCH_OUT"], "w") as out:
        t0 = float(os.environ["BENCH_T0"])
        cpu = time.process_time() - float(os.environ.get("BENCH_CPU0", 0))
        out.write(f"{now - IMPORTED} {now - t0} {cpu}")
    return None


IMPORTED = time.time()
"""


def taskora_command() -> list[str]:
    """The installed ``taskora`` script of this interpreter, else ``python -m taskora_cli``."""
    script = Path(sys.executable).parent / "taskora"
    return [str(script)] if script.exists() else [sys.executable, "-m", "taskora_cli"]


@contextmanager
def server(url: str | None) -> Iterator[str]:
    """``url``, else a private embedded server for the run."""
    if url:
        yield url
        return
    from taskora_cli.engine.embedded import ensure_embedded, stop_embedded

    state = Path(tempfile.mkdtemp(prefix="taskora-bench-cli-"))
    try:
        yield ensure_embedded(state)
    finally:
        stop_embedded(state)
        shutil.rmtree(state, ignore_errors=True)


def timed(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, str, float]:
    """Wall seconds of one run of ``argv``, its stdout, and the CPU seconds it used (user +
    system: less swayed than the wall by other load); a failing run stops the benchmark."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {done.returncode}: {done.stderr.strip()}")
    return wall, done.stdout, cpu


def compare(
    label: str, argv: list[str], cwd: Path, env: dict[str, str], runs: int
) -> tuple[float, float]:
    """Median wall of ``argv`` and of ``python -c pass``, run alternately; prints the row."""
    reference = [sys.executable, "-c", "pass"]
    ours: list[tuple[float, str, float]] = []
    base: list[tuple[float, str, float]] = []
    timed(argv, cwd, env)  # the first run may write .pyc files: not part of the sample
    for _ in range(runs):
        base.append(timed(reference, cwd, env))
        ours.append(timed(argv, cwd, env))
    ours_ms, base_ms = (statistics.median(r[0] for r in rows) * 1000 for rows in (ours, base))
    ours_cpu, base_cpu = (statistics.median(r[2] for r in rows) * 1000 for rows in (ours, base))
    print(
        f"  {label:<14} {ours_ms:7.1f} ms  python -c pass {base_ms:5.1f} ms  "
        f"ratio {ours_ms / base_ms:5.1f}x   (cpu {ours_cpu:6.1f} / {base_cpu:4.1f} ms = "
        f"{ours_cpu / base_cpu:4.1f}x)",
        flush=True,
    )
    return ours_ms, base_ms


PRELOADED_WORKER = """
import os, sys, time
sys.path.insert(0, os.getcwd())
for name in open(os.environ["BENCH_PRELOAD"]).read().split():
    try:
        __import__(name)
    except Exception:
        pass
os.environ["BENCH_T0"] = repr(time.time())  # imports done: the clock starts here
os.environ["BENCH_CPU0"] = repr(time.process_time())
sys.argv = ["taskora", "work", "--task", "first"]
from taskora_cli.cli import main
main()
"""
"""``taskora work`` with every module it will have imported by its first job imported first."""


def first_job_s(argv: list[str], cwd: Path, env: dict[str, str], out: Path) -> tuple[float, float]:
    """Seconds from BENCH_T0 (exec, unless the process resets it) to the first handler of a
    job queued before ``argv`` (a worker) started, and the CPU seconds the worker had used."""
    timed([*taskora_command(), "dispatch", "first"], cwd, env)
    run_env = {**env, "BENCH_OUT": str(out), "BENCH_T0": repr(time.time())}
    log = out.with_suffix(".log")
    with log.open("w") as stderr:
        worker = subprocess.Popen(
            argv, cwd=cwd, env=run_env, stdout=subprocess.DEVNULL, stderr=stderr
        )
    try:
        deadline = time.monotonic() + 30
        while not (out.exists() and out.read_text()):
            if time.monotonic() > deadline or worker.poll() is not None:
                raise SystemExit(f"the worker did not run the first job: {log.read_text()}")
            time.sleep(0.001)
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(30)
    _, wall, cpu = out.read_text().split()
    return float(wall), float(cpu)


def worker_start(cwd: Path, env: dict[str, str], runs: int) -> None:
    """Median ms to the first handler of a job queued before the worker started: from exec,
    and after imports (every module the worker has by then imported before the clock starts)."""
    modules = cwd / "modules.txt"
    warm = {**env, "BENCH_MODULES": str(modules)}
    first_job_s([*taskora_command(), "work", "--task", "first"], cwd, warm, cwd / "warm.txt")
    preload = {**env, "BENCH_PRELOAD": str(modules)}
    whole: list[tuple[float, float]] = []
    after: list[tuple[float, float]] = []
    for n in range(runs):
        argv = [*taskora_command(), "work", "--task", "first"]
        whole.append(first_job_s(argv, cwd, env, cwd / f"whole-{n}.txt"))
        argv = [sys.executable, "-c", PRELOADED_WORKER]
        after.append(first_job_s(argv, cwd, preload, cwd / f"after-{n}.txt"))
    for label, rows in (("worker: exec -> 1st job", whole), ("worker: after imports", after)):
        wall, cpu = (statistics.median(r[i] for r in rows) * 1000 for i in (0, 1))
        print(f"  {label:<24} {wall:7.1f} ms   (cpu {cpu:.1f} ms; median of {runs})", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--worker-runs", type=int, default=10)
    parser.add_argument("--worker-only", action="store_true", help="time only the worker start")
    parser.add_argument("--url", default=os.environ.get("TASKORA_URL"))
    args = parser.parse_args()
    with server(args.url) as url, tempfile.TemporaryDirectory(prefix="bench-cli-") as tmp:
        root = Path(tmp)
        (root / "mytasks.py").write_text(TASKS)
        (root / "taskora.toml").write_text(f'url = "{url}"\nmodules = ["mytasks"]\n')
        env = {k: v for k, v in os.environ.items() if not k.startswith("TASKORA_")}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        taskora = taskora_command()
        job_id = timed([*taskora, "dispatch", "echo", "--data", "1"], root, env)[1].strip()
        commands = {
            "dispatch": ["dispatch", "echo", "--data", json.dumps({"to": "a@example.com"})],
            "jobs show": ["jobs", "show", job_id],
            "stats": ["stats"],
            "queues pause": ["queues", "pause", "emails"],
            "--help": ["--help"],
        }
        print(f"taskora: {' '.join(taskora)}; {args.runs} runs each, medians")
        for label, extra in (
            ()
            if args.worker_only
            else (
                ("", {}),
                ("PYTHONDONTWRITEBYTECODE=1", {"PYTHONDONTWRITEBYTECODE": "1"}),
            )
        ):
            print(label or "with .pyc files")
            for name, words in commands.items():
                compare(name, [*taskora, *words], root, {**env, **extra}, args.runs)
        worker_start(root, env, args.worker_runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
