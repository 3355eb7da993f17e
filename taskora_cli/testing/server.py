"""The private embedded Valkey that test runners share: started on first use, once per
process (a pytest session), and stopped when the process ends."""

from __future__ import annotations

import atexit
import shutil
import tempfile
import threading
from pathlib import Path

_lock = threading.Lock()
_state_dir: Path | None = None
_url: str | None = None


def private_server() -> str:
    """The URL of this process's private test server, starting it on first use."""
    global _state_dir, _url
    with _lock:
        if _url is None:
            from ..engine.embedded import ensure_embedded

            _state_dir = Path(tempfile.mkdtemp(prefix="taskora-test-"))
            _url = ensure_embedded(_state_dir)
            atexit.register(stop_private_server)
        return _url


def stop_private_server() -> None:
    """Stop the private server (if one runs) and remove its files."""
    global _state_dir, _url
    with _lock:
        if _state_dir is None:
            return
        from ..engine.embedded import stop_embedded

        stop_embedded(_state_dir)
        shutil.rmtree(_state_dir, ignore_errors=True)
        _state_dir = _url = None


def empty_private_server() -> None:
    """Remove every key of the private server (each runner starts from nothing)."""
    from ..engine.embedded import empty_embedded

    with _lock:
        if _state_dir is not None:
            empty_embedded(_state_dir)
