"""Keccak-256 and EIP-55 addresses, computed as eth-utils computes them (pycryptodome's Keccak,
which eth-hash uses) but without importing eth-utils: its package import loads pydantic, a tenth
of a second of every CLI command that reads the chain."""

from __future__ import annotations

import re
from functools import lru_cache

from Crypto.Hash import keccak as _keccak

HEX_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")


def keccak(data: bytes | bytearray = b"", *, text: str | None = None) -> bytes:
    """Keccak-256 of `data`, or of `text` in UTF-8 (as `eth_utils.keccak`)."""
    payload = text.encode() if text is not None else bytes(data)
    return _keccak.new(data=payload, digest_bits=256).digest()


def to_checksum_address(value: str | bytes) -> str:
    """The EIP-55 form of an address, as `eth_utils.to_checksum_address` gives it: a 0x-prefixed
    hex address is checksummed here; any other input (and its ValueError) is eth-utils' own."""
    if isinstance(value, str) and HEX_ADDRESS.fullmatch(value):
        return _checksummed(value[2:].lower())
    from eth_utils import to_checksum_address as general

    return str(general(value))


@lru_cache(maxsize=4096)
def _checksummed(lower: str) -> str:
    """The EIP-55 form of 40 lower-case hex digits. Cached (a pure function of its input): every
    API write checksums the same few wallets and contracts several times, a Keccak each."""
    digest = keccak(lower.encode()).hex()
    return "0x" + "".join(
        char.upper() if int(nibble, 16) > 7 else char
        for char, nibble in zip(lower, digest[:40], strict=True)
    )
