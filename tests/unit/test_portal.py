"""The portal's loop closes clean: a coroutine nobody waits for any more (a blocking call cut
short by Ctrl-C) is cancelled and unwound, not dropped pending ("Task was destroyed but it is
pending!" on stderr when it is collected: `taskora dispatch --wait` interrupted under load)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import threading

import pytest

from taskora_cli.portal import SIGNAL_CHECK_S, Portal


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


def test_a_call_longer_than_a_signal_check_returns_its_result_or_its_own_timeout() -> None:
    # the main thread waits in short turns (to take in Ctrl-C): a turn's timeout must never be
    # mistaken for the call's outcome, whether the call ends between turns or raises its own
    portal = Portal()

    async def slow(value: str) -> str:
        await asyncio.sleep(SIGNAL_CHECK_S * 2.5)
        return value

    async def times_out() -> None:
        await asyncio.sleep(SIGNAL_CHECK_S * 1.5)
        raise TimeoutError("the call's own")

    try:
        assert portal.call(slow("done")) == "done"
        with pytest.raises(TimeoutError, match="the call's own"):
            portal.call(times_out())
    finally:
        portal.close()
