"""SHA-1 (script hashes for EVALSHA, the embedded server's folder name) without loading
OpenSSL: CPython's own ``_sha1`` imports in a fifth of the time ``hashlib`` takes (which loads
libcrypto first), and every one-shot CLI command pays its imports."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hashlib import sha1
else:
    try:
        from _sha1 import sha1
    except ImportError:  # a Python built without it: hashlib's is the same digest
        from hashlib import sha1

__all__ = ["sha1"]
