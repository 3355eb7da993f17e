"""The portal's loop closes clean: a coroutine nobody waits for any more (a blocking call cut
short by Ctrl-C) is cancelled and unwound, not dropped pending ("Task was destroyed but it is
pending!" on stderr when it is collected: `taskora dispatch --wait` interrupted under load)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import threading

import pytest

from taskora_cli.portal import Portal


def test_close_cancels_and_unwinds_a_call_nobody_waits_for(
    caplog: pytest.LogCaptureFixture,
) -> None:
    portal = Portal()
    started, unwound = threading.Event(), threading.Event()

    async def forever() -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        finally:
            unwound.set()

    def caller() -> None:  # its caller is gone: the portal's own cancel-on-interrupt never ran
        with contextlib.suppress(BaseException):
            portal.call(forever())

    thread = threading.Thread(target=caller, daemon=True)
    thread.start()
    assert started.wait(10)
    portal.close()
    assert unwound.wait(10)
    thread.join(10)
    gc.collect()
    assert "destroyed but it is pending" not in caplog.text
