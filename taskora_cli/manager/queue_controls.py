"""What the TaskManager and its admin Sdk share: their app's runtime, and queue pause and
resume."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..blocking import blocking_twin

if TYPE_CHECKING:
    from ..app import Taskora
    from ..runtime import Runtime


class QueueControls:
    """``pause_queue`` / ``resume_queue`` / ``is_queue_paused`` (and their ``a`` twins) on
    ``self.app``'s queues."""

    app: Taskora

    @property
    def runtime(self) -> Runtime:
        """The app's runtime (server, clock, the blocking bridge)."""
        return self.app.runtime

    async def apause_queue(self, queue: str) -> None:
        """Pause ``queue``: workers everywhere stop claiming its jobs; emits still work."""
        await self.app.queues().apause(queue)

    pause_queue = blocking_twin(apause_queue)

    async def aresume_queue(self, queue: str) -> None:
        """Resume ``queue``."""
        await self.app.queues().aresume(queue)

    resume_queue = blocking_twin(aresume_queue)

    async def ais_queue_paused(self, queue: str) -> bool:
        """Whether ``queue`` is paused."""
        return await self.app.queues().ais_paused(queue)

    is_queue_paused = blocking_twin(ais_queue_paused)
