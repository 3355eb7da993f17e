"""Redis Cluster hash slots, and workflow ids chosen to share a task's slot.

A cluster places a key by the CRC16 (XMODEM) of its hash tag, modulo 16384. A task's keys carry
the tag ``{<task name>}``, a workflow's hash ``{w:<workflow id>}`` (keys.py). A script touches
one slot only, so a worker's ack (the task's keys) can move a workflow on in the same call
(``ack_and_advance``) only when the two tags fall in one slot. :func:`workflow_id_in_slot_of`
makes ids that do: it draws the first 13 characters at random and solves for the last 3.

CRC16 with a zero start and no final xor is linear: for strings of equal length,
crc(a xor b) = crc(a) xor crc(b), and zero bytes ahead of a string leave its crc as it is. So
crc(head + tail) = crc(head + 3 zero bytes) xor crc(tail), and the tail that lands the whole
tag in a given slot is looked up in a table of what each 3-character tail adds. Those tails
reach about nine slots in ten; for the rest a new random head is drawn.
"""

from __future__ import annotations

import binascii
import os
from functools import cache

SLOTS = 16384
_MASK = SLOTS - 1  # 16384 slots: the low 14 bits of the crc
_ALPHABET = b"abcdefghijklmnopqrstuvwxyz234567"  # job and workflow ids: lowercase base32
_BASE32 = bytes(_ALPHABET[i % 32] for i in range(256))
_HEAD, _TAIL = 13, 3


def tag_slot(tag: str) -> int:
    """The slot of a key whose hash tag is ``tag`` (the text between its braces)."""
    return binascii.crc_hqx(tag.encode("utf-8", "surrogateescape"), 0) & _MASK


def key_slot(key: str) -> int:
    """The slot of ``key`` as Redis Cluster computes it: of its hash tag (the text between its
    first ``{`` and the next ``}``, when not empty), else of the whole key."""
    raw = key.encode("utf-8", "surrogateescape")  # as the connection sends it
    start = raw.find(b"{")
    if start >= 0:
        end = raw.find(b"}", start + 1)
        if end > start + 1:
            raw = raw[start + 1 : end]
    return binascii.crc_hqx(raw, 0) & _MASK


def shares_slot(workflow_key: str, task_key: str) -> bool:
    """Whether a workflow's hash (``workflow_key``) and a key of a task (``task_key``) are in
    one slot: read from the keys themselves, so whatever built them, a call with both never
    reaches a cluster across two slots."""
    return key_slot(workflow_key) == key_slot(task_key)


def workflow_id_in_slot_of(task: str) -> str:
    """A random 16-character id (lowercase base32, 65 random bits) whose workflow hash is in
    the slot of ``task``'s keys (their tags are ``{w:<id>}`` and ``{<task>}``: keys.py; the
    key prefix holds no braces, names.check_prefix)."""
    target = tag_slot(task)
    tails = _tails()
    while True:
        head = b"w:" + os.urandom(_HEAD).translate(_BASE32)
        tail = tails.get((binascii.crc_hqx(head + bytes(_TAIL), 0) ^ target) & _MASK)
        if tail is not None:
            return (head[2:] + tail).decode()


@cache
def _tails() -> dict[int, bytes]:
    """Slot bits -> a 3-character tail whose crc has them (built once: ~20 ms)."""
    found: dict[int, bytes] = {}
    for a in _ALPHABET:
        for b in _ALPHABET:
            for c in _ALPHABET:
                tail = bytes((a, b, c))
                found.setdefault(binascii.crc_hqx(tail, 0) & _MASK, tail)
    return found
