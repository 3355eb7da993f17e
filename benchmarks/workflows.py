"""Workflow overhead: a 1,000-member group and a 100-step chain against plain jobs.

Run by hand from the repository root (a fresh embedded server in a temporary folder):

    python benchmarks/workflows.py [--members 1000] [--steps 100] [--json]
    python benchmarks/workflows.py --url redis://127.0.0.1:7000   # another (scratch!) server

``--url`` runs on that server instead (FLUSHALLed: never point it at data you need), a
cluster too (``taskora server start --cluster 3``).

One process dispatches and runs one worker (concurrency 50) for task ``inc`` (``n + 1``).
Reported, each the best of ``--repeat`` runs:
- plain batch: ``--members`` plain jobs via dispatch_many, until the last completes;
- group: one group of ``--members`` signatures, dispatch to result;
- plain sequence: ``--steps`` plain jobs, each dispatched when the previous one's result came;
- chain: ``--steps`` steps, each fed the previous step's result, dispatch to result;
each ratio is the median over the runs of that run's workflow time / plain time (plain and
workflow measured back to back, so load from elsewhere hits both alike); the same for the CPU
both cost (this process's, dispatcher and worker, plus the server's: INFO cpu), which load
from other processes on a shared machine skews far less than the time; and the bytes per
workflow node: MEMORY USAGE of the finished workflow's hash / its nodes,
plus the node job hash against a plain job's (the same fields: its id names its workflow).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from taskora_cli import Taskora, chain, group  # noqa: E402
from taskora_cli.config import load_config  # noqa: E402
from taskora_cli.engine import keys as k  # noqa: E402
from taskora_cli.engine.embedded import ensure_embedded, stop_embedded  # noqa: E402


async def until_completed(app: Taskora, task: str, count: int) -> None:
    engine = await app.runtime.engine()
    while (await engine.counts(task))["completed"] < count:
        await asyncio.sleep(0.002)


async def until_state(handle: Any) -> None:
    """Poll as often as until_completed does, so both sides wait alike."""
    while await handle.astate() == "running":
        await asyncio.sleep(0.002)


async def measure(members: int, steps: int, repeat: int, url: str, tmp: Path) -> dict[str, Any]:
    app = Taskora(url, config=load_config(env={}, cwd=tmp))

    @app.task("inc", concurrency=50)
    async def inc(n: int) -> int:
        return n + 1

    engine = await app.runtime.engine()
    client = engine.client
    worker = await app.start()
    best: dict[str, float] = {}
    runs: dict[str, list[float]] = {}

    cpu: dict[str, list[float]] = {}

    async def cpu_now() -> float:
        """CPU seconds used so far by this process and the server."""
        server = await client.info("cpu")
        # a cluster client answers per node ({node: info}): every node's CPU counts
        nodes = [v for v in server.values() if isinstance(v, dict)] or [server]
        used = sum(node["used_cpu_user"] + node["used_cpu_sys"] for node in nodes)
        return time.process_time() + used

    def keep(name: str, seconds: float) -> None:
        best[name] = min(best.get(name, float("inf")), seconds)
        runs.setdefault(name, []).append(seconds)

    async def keep_cpu(name: str, since: float) -> None:
        cpu.setdefault(name, []).append(await cpu_now() - since)

    memory: dict[str, float] = {}
    try:
        for _ in range(repeat):
            await client.flushall()
            engine.registered.clear()
            used = await cpu_now()
            start = time.perf_counter()
            await inc.adispatch_many(range(members))
            await until_completed(app, "inc", members)
            keep("plain batch", time.perf_counter() - start)
            await keep_cpu("plain batch", used)

            await client.flushall()
            engine.registered.clear()
            used = await cpu_now()
            start = time.perf_counter()
            handle = await group(*(inc.s(i) for i in range(members))).adispatch()
            await until_state(handle)
            result = await handle.aresult(120)
            keep("group", time.perf_counter() - start)
            await keep_cpu("group", used)
            assert result == [i + 1 for i in range(members)]
            wf_bytes = await client.memory_usage(k.workflow_key(app.prefix, handle.id))
            t = engine.keys("inc")
            node_job = await client.memory_usage(t.job(f"{handle.id}.0"))
            plain_id = (await inc.adispatch(1)).id
            await until_completed(app, "inc", members + 1)
            plain_job = await client.memory_usage(t.job(plain_id))
            memory = {
                "workflow hash bytes per node": (wf_bytes or 0) / members,
                "node job hash bytes": node_job or 0,
                "plain job hash bytes": plain_job or 0,
            }

            await client.flushall()
            engine.registered.clear()
            used = await cpu_now()
            start = time.perf_counter()
            n = 0
            for _ in range(steps):
                n = await (await inc.adispatch(n)).aresult(30)
            keep("plain sequence", time.perf_counter() - start)
            await keep_cpu("plain sequence", used)
            assert n == steps

            await client.flushall()
            engine.registered.clear()
            used = await cpu_now()
            start = time.perf_counter()
            c = chain(inc.s(0), *(inc.s() for _ in range(steps - 1)))
            handle = await c.adispatch()
            await until_state(handle)
            assert await handle.aresult(120) == steps
            keep("chain", time.perf_counter() - start)
            await keep_cpu("chain", used)
    finally:
        await worker.stop()
        await app.aclose()
    rates = {
        "plain batch jobs/s": members / best["plain batch"],
        "group jobs/s": members / best["group"],
        "plain sequence jobs/s": steps / best["plain sequence"],
        "chain jobs/s": steps / best["chain"],
    }

    def ratio(workflow: str, plain: str, of: dict[str, list[float]] = runs) -> float:
        pairs = sorted(w / p for w, p in zip(of[workflow], of[plain], strict=True))
        return statistics.median(pairs)

    overhead = {
        "group per-node cost / plain job cost": ratio("group", "plain batch"),
        "chain per-step cost / plain sequential job cost": ratio("chain", "plain sequence"),
        "group CPU / plain batch CPU": ratio("group", "plain batch", cpu),
        "chain CPU / plain sequence CPU": ratio("chain", "plain sequence", cpu),
    }
    return {"members": members, "steps": steps, **rates, **overhead, **memory}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--url", help="use this server instead of a fresh embedded one")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.url:
            found = asyncio.run(measure(args.members, args.steps, args.repeat, args.url, Path(tmp)))
        else:
            state = Path(tmp) / "valkey"
            state.mkdir()
            url = ensure_embedded(state)
            try:
                found = asyncio.run(measure(args.members, args.steps, args.repeat, url, Path(tmp)))
            finally:
                stop_embedded(state)
    if args.json:
        print(json.dumps(found, indent=2))
        return
    for name, value in found.items():
        print(f"{name:>50}: {value:,.2f}" if isinstance(value, float) else f"{name:>50}: {value}")


if __name__ == "__main__":
    main()
