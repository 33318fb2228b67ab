"""Fast signing of legacy (EIP-155) transactions with libsecp256k1 through coincurve.

eth-account's general signer validates and normalises every field on each call (about 1.7 ms a
transaction here); Amanat signs only its own, already well-formed transactions, so it encodes
them directly (tens of microseconds). tests/chain/test_signing.py proves byte-identical output.
"""

from __future__ import annotations

from functools import cache

import rlp
from coincurve import PrivateKey
from eth_utils import keccak


@cache
def _private_key(secret: bytes) -> PrivateKey:
    return PrivateKey(secret)


def sign_legacy(
    secret: bytes,
    *,
    nonce: int,
    gas_price: int,
    gas: int,
    to: bytes | None,
    value: int,
    data: bytes,
    chain_id: int,
) -> bytes:
    """The raw signed transaction (RLP) for an EIP-155 legacy transaction."""
    to_field = to or b""
    unsigned = rlp.encode([nonce, gas_price, gas, to_field, value, data, chain_id, 0, 0])
    signature = _private_key(secret).sign_recoverable(keccak(unsigned), hasher=None)
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:64], "big")
    v = signature[64] + 35 + 2 * chain_id
    return bytes(rlp.encode([nonce, gas_price, gas, to_field, value, data, v, r, s]))
