"""Start-up cost of the one-shot ``taskora`` commands and of a worker, against ``python -c pass``.

Every call is a fresh process, as from a shell script or a cron wrapper. Each command runs
``--runs`` times (default 50), alternating with the reference ``python -c pass`` so both see
the same machine load; the medians and their ratio are printed, once with ``.pyc`` files as
usual and once with ``PYTHONDONTWRITEBYTECODE=1``.

The worker row is the time from exec of ``taskora work`` to the first handler of a job queued
before it started, less Python's own start and the time spent importing (its ``-X importtime``
lines): what the worker does itself before serving (config, connect, register, claim).

Usage::

    python benchmarks/bench_cli.py [--runs 50] [--url redis://...]

Without ``--url`` (or TASKORA_URL) it starts its own embedded server in a temporary folder.
"""

from __future__ import annotations

import argparse
import json
import os
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
import os, time
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
    with open(os.environ["BENCH_OUT"], "w") as out:
        out.write(f"{now - IMPORTED} {now - float(os.environ['BENCH_T0'])}")
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


def timed(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, str]:
    """Wall seconds of one run of ``argv``, and its stdout; a failing run stops the benchmark."""
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {done.returncode}: {done.stderr.strip()}")
    return wall, done.stdout


def compare(
    label: str, argv: list[str], cwd: Path, env: dict[str, str], runs: int
) -> tuple[float, float]:
    """Median wall of ``argv`` and of ``python -c pass``, run alternately; prints the row."""
    reference = [sys.executable, "-c", "pass"]
    ours: list[float] = []
    base: list[float] = []
    timed(argv, cwd, env)  # the first run may write .pyc files: not part of the sample
    for _ in range(runs):
        base.append(timed(reference, cwd, env)[0])
        ours.append(timed(argv, cwd, env)[0])
    ours_ms, base_ms = statistics.median(ours) * 1000, statistics.median(base) * 1000
    print(
        f"  {label:<28} {ours_ms:8.1f} ms   python -c pass {base_ms:6.1f} ms   "
        f"ratio {ours_ms / base_ms:5.1f}x",
        flush=True,
    )
    return ours_ms, base_ms


def import_ms(log: str) -> float:
    """The wall a process spent importing, from its ``-X importtime`` lines: the sum of the
    cumulative times of its top-level imports (those nested are inside them)."""
    total = 0
    for line in log.splitlines():
        if line.startswith("import time:"):
            _, cumulative, name = line.split("|")
            if cumulative.strip().isdigit() and not name.startswith("  "):
                total += int(cumulative)
    return total / 1000


def worker_start(cwd: Path, env: dict[str, str], runs: int, python_ms: float) -> None:
    """Median ms from exec to the first handler of a job queued before the worker started,
    and the part of it that is neither Python's start nor imports (-X importtime)."""
    whole: list[float] = []
    imports: list[float] = []
    after: list[float] = []
    for n in range(runs):
        out, log = cwd / f"first-{n}.txt", cwd / f"worker-{n}.log"
        timed([*taskora_command(), "dispatch", "first"], cwd, env)
        run_env = {**env, "BENCH_OUT": str(out), "BENCH_T0": repr(time.time())}
        with log.open("w") as stderr:
            worker = subprocess.Popen(
                [
                    sys.executable,
                    "-X",
                    "importtime",
                    "-m",
                    "taskora_cli",
                    "work",
                    "--task",
                    "first",
                ],
                cwd=cwd,
                env=run_env,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
        try:
            deadline = time.monotonic() + 30
            while not (out.exists() and out.read_text()):
                if time.monotonic() > deadline or worker.poll() is not None:
                    raise SystemExit("the worker did not run the first job within 30 s")
                time.sleep(0.002)
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(30)
        spawn_ms = float(out.read_text().split()[1]) * 1000
        imported_ms = import_ms(log.read_text())
        whole.append(spawn_ms)
        imports.append(imported_ms)
        after.append(spawn_ms - imported_ms - python_ms)
    print(
        f"  {'worker: after imports':<28} {statistics.median(after):8.1f} ms   "
        f"(exec -> 1st job {statistics.median(whole):.1f} ms, of which imports "
        f"{statistics.median(imports):.1f} ms and python -c pass {python_ms:.1f} ms; "
        f"-X importtime, median of {runs})",
        flush=True,
    )


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
        python_ms = statistics.median(
            timed([sys.executable, "-c", "pass"], root, env)[0] * 1000 for _ in range(args.runs)
        )
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
        worker_start(root, env, args.worker_runs, python_ms)
    return 0


if __name__ == "__main__":
    sys.exit(main())
