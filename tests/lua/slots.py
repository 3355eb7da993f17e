"""Redis Cluster's hash slot of a key, computed here so a cross-slot script call fails in the
suite before a cluster ever sees it (CRC16/XMODEM of the hash tag, mod 16384)."""

from __future__ import annotations

SLOTS = 16384


def crc16(data: bytes) -> int:
    """CRC16-CCITT (XMODEM), the checksum Redis Cluster hashes keys with."""
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def hash_slot(key: str) -> int:
    """The slot of ``key``: only its hash tag counts (the text between the first ``{`` and the
    next ``}``, when not empty), so keys sharing a tag share a slot."""
    data = key.encode()
    start = data.find(b"{")
    if start >= 0:
        end = data.find(b"}", start + 1)
        if end > start + 1:
            data = data[start + 1 : end]
    return crc16(data) % SLOTS
