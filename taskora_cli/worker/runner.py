"""One task's claim loop: claim in batches, run up to `concurrency` handlers, settle in batches.

Jobs a worker holds move buffer -> running -> finished. The settle loop sends every finished
job back in one fused script call that also claims the next jobs, so at full load a process
makes one round trip per batch, not per job. Idle, it blocks on the task's marker key.

Handlers run in slots (see slots.py): a few long-lived asyncio tasks that take buffered jobs
one after another, so a job costs no Task, timer or context of its own unless it needs one.
How far the runner claims ahead adapts to how long the handlers take: fast jobs travel in big
batches, slow ones are not hoarded by one worker while others idle.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from ..engine.records import Ack, ClaimedJob, Failure
from ..engine.slots import shares_slot
from ..errors import JobVersionError
from ..retry import NO_RETRY
from ..workflow import WorkflowState
from ..workflow_graph import parse_node_job_id
from .execute import Outcome, failed
from .slots import Slots
from .workflow_nodes import advance_nodes, carry_nodes_on, fail_workflow_node

if TYPE_CHECKING:
    from ..engine.workflows import ReadyNode
    from ..task import Task
    from .host import WorkerHost
    from .plan import TaskPlan

log = logging.getLogger("taskora.worker")

IDLE_BLOCK_S = 5.0
"""How long an idle worker blocks on the marker before it looks again anyway."""
PASS_ON_S = 0.5
"""How long passing an unused wake-up on may take: with the server gone, a stop or a drain
must not wait for it (the other workers look again after IDLE_BLOCK_S anyway)."""
SHORT_WAIT_MS = 150
"""Below this, a worker waits for a delayed job on its own clock rather than the server's,
whose blocking timeouts are only as precise as its event loop tick (100 ms at hz 10)."""
PREFETCH_CAP = 64
"""At most this many jobs claimed beyond the free slots (unless the worker sets prefetch)."""
PREFETCH_BUDGET_S = 0.02
"""Claim ahead about this much work, judged by the handlers' average run time."""
DEFER_MS = 5_000
"""How long a job too new for this worker's payload version waits before any worker looks
at it again (a newer worker, if one runs, usually takes it sooner: it is waiting again then)."""


class TaskRunner(Slots):
    """Claims, runs and settles the jobs of one task inside a Worker.

    Args:
        prefetch: jobs claimed beyond the free slots; None adapts it to the handlers' speed
            (1 to PREFETCH_CAP).
    """

    def __init__(
        self,
        worker: WorkerHost,
        task: Task,
        concurrency: int,
        prefetch: int | None,
        plan: TaskPlan,
    ) -> None:
        super().__init__(worker, task, concurrency, plan)
        self.engine = worker.engine
        self.prefetch = prefetch
        self.in_flight = False
        """True while a claim or settle round trip is on the wire."""
        self.paused = False
        """Its queue is paused, or the worker drains: claim nothing, still settle."""
        self.abandoned_threads = 0
        """Jobs whose thread handlers were still running when the stop gave up on them."""
        self._give_up_at = float("inf")
        self._maybe_more = True
        self._acked_nodes: list[Outcome] = []
        """Completed workflow nodes whose workflow is yet to move on (see _advance_workflows)."""
        self._carried: list[tuple[str, str, list[ReadyNode]]] = []
        """Workflows an ack moved on with something left to do (workflow, its state, the ready
        nodes it handed back): see carry_nodes_on."""
        self.advancing: set[asyncio.Task[None]] = set()
        """Workflow advances under way: the runner is busy until they end."""
        self._advance_running = False
        """An advance is under way (set and cleared with no await between a look at
        _acked_nodes and the change)."""
        self._fed = False
        self.at_limit = False
        """The last reservation got nothing (``--max-jobs`` is used up): claim nothing and
        wait for no work until the worker's unclaim() says some came free."""
        self._unanswered: tuple[str, int] | None = None
        """A claim that failed without a reply (its request id and count): the server may have
        run it, so the next claim sends it again and gets that run's jobs, rather than leaving
        them locked by nobody until the lock TTL. A settle call in between carries its own id:
        the old one is dropped then (its jobs, if any, wait out the lock TTL)."""
        self._arm = asyncio.Event()
        self._signal_taken = False
        """The waker took a wake-up off the task's marker that no claim of this runner has used
        yet. A claim leaves the marker for the task's other workers as it goes; a runner that
        will not claim passes it on instead (_pass_signal_on), or another idle worker would
        wait out its idle block."""
        self._loop_task: asyncio.Task[None] | None = None
        self._waker_task: asyncio.Task[None] | None = None

    @property
    def limit(self) -> int:
        """How many jobs to hold at most: the slots plus the prefetch."""
        if self.prefetch is not None:
            return self.concurrency + self.prefetch
        if self.average_s is None:
            return self.concurrency + 1
        ahead = PREFETCH_BUDGET_S * self.concurrency / max(self.average_s, 1e-6)
        return self.concurrency + max(1, min(PREFETCH_CAP, int(ahead)))

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._loop_task = loop.create_task(self._settle_loop(), name=f"taskora:{self.task.name}")
        self._waker_task = loop.create_task(self._waker(), name=f"taskora-waker:{self.task.name}")

    async def stop(self, grace_s: float) -> None:
        """Stop claiming, let running jobs finish within ``grace_s``, hand back the rest."""
        loop = asyncio.get_running_loop()
        self.stopping = True
        self._give_up_at = min(self._give_up_at, loop.time() + grace_s)
        waker = self._waker_task
        if waker is not None and not waker.done():
            if not waker.cancelling():  # a second stop (a hurried one) finds it cancelled
                waker.cancel()
            # a pop it had on its way puts a marker back (Doorbells._pop) before the engine's
            # connections close
            await asyncio.wait([waker], timeout=PASS_ON_S)
        if self._signal_taken:  # a drain or stop right after a wake-up came
            await self._pass_signal_on()
        await self._hand_back(list(self.buffer))
        self.buffer.clear()
        self.wake.set()
        while self.running and loop.time() < self._give_up_at:
            await asyncio.sleep(0.01)
        leftovers = self.abandon("shutdown")
        if not self.task.is_async:
            # A thread cannot be stopped: its handler may run on (until this process exits,
            # which `taskora work` does at once). The job goes back now all the same, so it
            # neither waits out the lock TTL nor counts a stall; handing it back ends this
            # worker's lock, so whatever the thread does later cannot settle it over the next
            # owner (every settle checks the lock token), and its slot is gone, so it won't try.
            self.abandoned_threads += len(leftovers)
        await self._hand_back(leftovers)
        self.wake.set()
        if self._loop_task is not None:
            await self._loop_task
        if self.advancing:  # what the last acks readied is enqueued before the worker goes
            await asyncio.gather(*self.advancing)
        self.close_slots()

    def set_paused(self, paused: bool) -> None:
        """Stop claiming (jobs held run on and are settled), or start again."""
        if paused == self.paused:
            return
        self.paused = paused
        if not paused:
            self._maybe_more = True
            self.wake.set()

    def _starved(self) -> bool:
        """Too many of the pool's threads are stuck: a thread job claimed now might not run."""
        return not self.task.is_async and self.worker.too_stuck.is_set()

    def resume_claiming(self) -> None:
        """Stuck threads ended: look for work again."""
        self._maybe_more = True
        self.wake.set()

    def lost(self, job_id: str) -> None:
        """The heartbeat found this job's lock taken: stop caring about it."""
        if self.held.pop(job_id, None) is not None:
            self.worker.unclaim(1)  # another worker runs it: it does not count for --max-jobs
        item = self.running.get(job_id)
        if item is not None:
            item.give_up("lock lost")

    # -- the settle/claim loop ---------------------------------------------------------------

    async def _settle_loop(self) -> None:
        while True:
            finished, self.finished = self.finished, []
            claiming = not (self.stopping or self.paused or self._starved())
            room = self.limit - len(self.held) + len(finished) if claiming else 0
            want = 0
            if room > 0 and (finished or self._maybe_more):
                # reserve before deciding on a round trip: at the --max-jobs limit a claim for
                # nothing would only put the queue's marker back and wake the waker at once
                want = self.worker.reserve_claims(room)
                self.at_limit = want == 0
            if finished or want > 0:
                self.in_flight = True
                claimed = []
                try:
                    claimed = await self._round_trip(finished, want)
                finally:
                    self.in_flight = False
                    self.worker.unclaim(want - len(claimed))
            else:
                if await self._idle(room):
                    return
                continue
            # _fed: an advance gave this task jobs meanwhile (read and reset with no await
            # between, so no wake-up it sends is lost)
            self._maybe_more = (want > 0 and len(claimed) >= want) or self._fed
            self._fed = False
            if self._acked_nodes or self._carried:
                self._start_advance()
            if not claiming and not (self.stopping or self.paused):
                self._maybe_more = True  # resumed while this round trip was on the wire
            held, buffer = self.held, self.buffer
            oldest, newest = self.plan.oldest, self.plan.newest
            misfits: list[ClaimedJob] = []
            for job in claimed:
                held[job.id] = job.token
                if oldest <= job.version <= newest:
                    buffer.append(job)
                else:
                    misfits.append(job)
            if misfits:
                await self._sort_out(misfits)
            if self.stopping:  # stop() began while this claim was on the wire: give them back
                await self._hand_back(list(self.buffer))
                self.buffer.clear()
            self.start_ready()

    async def _idle(self, room: int) -> bool:
        """Nothing to send: wait until woken. True when the runner is done (stopping, with
        nothing held)."""
        if self._signal_taken:  # not claiming, or full: either way it goes unused here
            await self._pass_signal_on()
        if self.stopping and not self.held:
            return True
        if room > 0 and not self.at_limit:
            self._arm.set()  # at the limit, unclaim() wakes this loop instead
        await self.wake.wait()
        self.wake.clear()
        return False

    async def _round_trip(self, finished: list[Outcome], want: int) -> list[ClaimedJob]:
        try:
            if finished:
                self._unanswered = None
                claimed = await self._settle(finished, want)
            else:
                claimed = await self._claim(want)
            self._signal_taken = False  # every claiming call leaves the marker as it goes
            return claimed
        except Exception as exc:
            unsettled = [o for o in finished if o.job.id in self.held]
            if self.stopping and asyncio.get_running_loop().time() >= self._give_up_at:
                # Stopping, and the grace is over: waiting for the server could last for ever.
                # These jobs keep their locks; after the lock TTL the stall sweep reruns them.
                for outcome in unsettled:
                    self.held.pop(outcome.job.id, None)
                log.warning(
                    "taskora: %s: %s; %d finished jobs could not be recorded and will run again "
                    "after the lock TTL",
                    self.task.name,
                    exc,
                    len(unsettled),
                )
                return []
            log.warning("taskora: %s: %s; retrying", self.task.name, exc)
            self.finished[:0] = unsettled  # they go out again with the next call
            await asyncio.sleep(0.5)
            return []

    async def _claim(self, want: int) -> list[ClaimedJob]:
        w, name = self.worker, self.task.name
        request, count = self._unanswered or (self.engine.new_request(), want)
        self._unanswered = (request, count)  # until its reply arrives
        claimed = await self.engine.claim(
            name, w.id, count, w.runtime.clock(), self.lock_ttl_ms, request=request
        )
        self._unanswered = None
        if len(claimed) > want:
            # A replay of a claim for more than may be held now (--max-jobs counted down
            # meanwhile): the rest go straight back.
            extra = [(job.id, job.token) for job in claimed[want:]]
            claimed = claimed[:want]
            try:
                await self.engine.nack(name, extra, w.runtime.clock())
            except Exception as exc:
                log.warning("taskora: could not hand back %d jobs: %s", len(extra), exc)
        return claimed

    async def _settle(self, finished: list[Outcome], want: int) -> list[ClaimedJob]:
        w, name = self.worker, self.task.name
        succeeded = [o for o in finished if o.ok]
        failures = [o for o in finished if not o.ok]
        claimed: list[ClaimedJob] = []
        for i, o in enumerate(failures):
            count = want if not succeeded and i == len(failures) - 1 else 0
            failure = Failure(o.job.id, o.job.token, o.error, o.retry_at_ms)
            status, got = await self.engine.fail_and_claim(
                name, failure, w.id, count, w.runtime.clock(), self.lock_ttl_ms, w.retention
            )
            claimed += got
            self._release(o, status != 0)
            node = parse_node_job_id(o.job.id) if status == 2 else None
            if node is not None:  # failed for good: the workflow fails with it
                await fail_workflow_node(self.worker, *node, o.error)
        if succeeded:
            acks = [Ack(o.job.id, o.job.token, o.result) for o in succeeded]
            now = w.runtime.clock()
            workflow = self._one_workflow(succeeded)
            advanced = None
            if workflow is None:
                flags, got = await self.engine.ack_and_claim(
                    name, acks, w.id, want, now, self.lock_ttl_ms, w.retention
                )
            else:  # its nodes move it on in this very call; its next ones here are claimed
                flags, got, advanced = await self.engine.ack_and_advance(
                    name, acks, workflow, w.id, want, now, self.lock_ttl_ms, w.retention
                )
            claimed += got
            for o, flag in zip(succeeded, flags, strict=True):
                self._release(o, flag != 0)
            if workflow is not None and advanced is not None:
                state, ready = advanced
                if ready or state == WorkflowState.COMPLETED:  # left to do: other tasks' nodes,
                    self._carried.append((workflow, state, ready))  # the retention list
            else:  # completed (not cancelled) workflow nodes: their workflows move on
                self._acked_nodes += [
                    o
                    for o, flag in zip(succeeded, flags, strict=True)
                    if flag == 1 and "." in o.job.id
                ]
        return claimed

    def _one_workflow(self, succeeded: list[Outcome]) -> str | None:
        """The workflow whose nodes the completed jobs are, when they are of one workflow (plain
        jobs beside them are fine) whose hash shares this task's slot, so one call acks them
        and moves it on (see engine/slots.py)."""
        found: str | None = None
        for o in succeeded:
            node = parse_node_job_id(o.job.id) if "." in o.job.id else None
            if node is not None:
                if found is not None and node[0] != found:
                    return None
                found = node[0]
        if found is None:
            return None
        workflow_key = self.engine.workflows.key(found)
        return found if shares_slot(workflow_key, self.engine.keys(self.task.name).tag) else None

    def _start_advance(self) -> None:
        """Move the workflows of the completed nodes on, alongside the next round trip (its
        latency overlaps theirs) rather than before it. One advance at a time: nodes acked
        while one is on the wire go together in the next (one call per workflow for all of
        them, not one per settle)."""
        if self._advance_running:
            return  # the advance under way takes them before it ends
        self._advance_running = True
        advancing = asyncio.get_running_loop().create_task(self._advance_workflows())
        self.advancing.add(advancing)
        advancing.add_done_callback(self.advancing.discard)

    async def _advance_workflows(self) -> None:
        """Workflow nodes among the acked jobs (ids ``<workflow>.<node>``) hand their result
        on, until none are left; successors of this runner's own task are claimed right
        behind their enqueue, not after a marker wake-up."""
        try:
            while self._acked_nodes or self._carried:
                acked, self._acked_nodes = self._acked_nodes, []
                carried, self._carried = self._carried, []
                if acked:
                    completed = [(o.job.id, o.result) for o in acked]
                    await advance_nodes(self.worker, completed, self._feed)
                if carried:
                    await carry_nodes_on(self.worker, carried, self._feed)
        finally:  # no await since the last look: no node acked meanwhile is left behind
            self._advance_running = False

    def _feed(self, tasks: set[str]) -> None:
        """An advance is enqueueing jobs of ``tasks``: claim at once if this runner's is one."""
        if self.task.name in tasks:
            self._fed = self._maybe_more = True
            self.wake.set()

    async def _sort_out(self, jobs: list[ClaimedJob]) -> None:
        """Jobs whose payload version this worker cannot run: newer ones go back, delayed and
        uncounted (no attempt, no stall), for a newer worker; ones older than ``since`` fail
        for good (no migration leads from them any more)."""
        now = self.worker.runtime.clock()
        newer = [job for job in jobs if job.version > self.plan.newest]
        for job in jobs:
            if job.version < self.plan.oldest:
                error = JobVersionError(self.task.name, job.version, self.plan.oldest)
                self.finished.append(failed(job, error, NO_RETRY, now))
        if not newer:
            return
        back = [(job.id, job.token) for job in newer]
        for job_id, _ in back:
            self.held.pop(job_id, None)
        self.worker.unclaim(len(back))  # never ran here: they do not count for --max-jobs
        log.info(
            "taskora: %s: %d jobs have a payload version newer than %d: left for a newer worker",
            self.task.name,
            len(back),
            self.plan.newest,
        )
        try:
            await self.engine.defer(self.task.name, back, now, now + DEFER_MS)
        except Exception as exc:  # they keep their locks: the stall sweep frees them later
            log.warning("taskora: could not hand back %d jobs: %s", len(back), exc)

    def _release(self, outcome: Outcome, settled: bool) -> None:
        self.held.pop(outcome.job.id, None)
        self.worker.report(self.task.name, outcome, settled)

    async def _hand_back(self, jobs: list[ClaimedJob]) -> None:
        held = [(job.id, job.token) for job in jobs if job.id in self.held]
        for job_id, _ in held:
            self.held.pop(job_id, None)
        self.worker.unclaim(len(held))
        if held:
            try:
                await self.engine.nack(self.task.name, held, self.worker.runtime.clock())
            except Exception as exc:
                log.warning("taskora: could not hand back %d jobs: %s", len(held), exc)

    # -- idle waiting ------------------------------------------------------------------------

    async def _waker(self) -> None:
        while True:
            await self._arm.wait()
            self._arm.clear()
            try:
                score = await self.engine.wait_for_work(self.task.name, IDLE_BLOCK_S)
            except Exception as exc:
                log.debug("taskora: waiting for work failed: %s", exc)
                await asyncio.sleep(0.5)
                score = None
            if score is not None:
                self._signal_taken = True
            if score:
                await self._sleep_until(score)
            self._maybe_more = True
            self.wake.set()

    async def _pass_signal_on(self) -> None:
        """Leave the task's marker for its other workers, as a claim would (a claim of no jobs:
        it promotes what is due and rings the marker if work waits), when this runner took a
        wake-up it will not use (stopping, paused, its threads stuck, or full)."""
        self._signal_taken = False
        w = self.worker
        try:
            async with asyncio.timeout(PASS_ON_S):
                # request "": a claim of nothing needs no replay protection, and leaves the
                # worker's last remembered claim (a claim to be sent again) as it is
                await self.engine.claim(
                    self.task.name, w.id, 0, w.runtime.clock(), self.lock_ttl_ms, request=""
                )
        except Exception as exc:  # TimeoutError included
            log.debug("taskora: could not pass a wake-up on: %s", exc)

    async def _sleep_until(self, due_ms: float) -> None:
        """The next job is delayed until ``due_ms``: wait for it, waking early for new work."""
        remaining = due_ms - self.worker.runtime.clock()
        if remaining > SHORT_WAIT_MS:
            block_s = min((remaining - SHORT_WAIT_MS / 2) / 1000, IDLE_BLOCK_S)
            if await self.engine.wait_for_work(self.task.name, block_s) is not None:
                return  # new work (or an earlier due time) arrived: go and claim
            remaining = due_ms - self.worker.runtime.clock()
        if 0 < remaining <= SHORT_WAIT_MS:
            await asyncio.sleep(remaining / 1000)
