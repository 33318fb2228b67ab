"""Fast signing of legacy (EIP-155) and fee-market (EIP-1559) transactions with libsecp256k1
through coincurve, or by a key that never leaves a hardware token (`amanat.chain.hsm`), reading
back the fields Amanat needs from a signed transaction, and recovering the sender of a
transaction a client signed itself (`read_signed`).

eth-account's general signer validates and normalises every field on each call (about 1.7 ms a
transaction here); Amanat signs only its own, already well-formed transactions, so it encodes
them directly (tens of microseconds). tests/chain/test_signing.py proves byte-identical output.

rlp is imported by the functions that use it: it imports eth-utils and pydantic (~0.1 s), which
a read of the chain, which loads this module with the chain gateway, never needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Protocol

from coincurve import PrivateKey, PublicKey

from amanat.domain.evm import keccak


class DigestSigner(Protocol):
    """A key Amanat cannot read (a hardware token's): it signs a 32-byte digest and returns
    (recovery id, r, s) with s in the lower half of the curve order."""

    address: str

    def sign_digest(self, digest: bytes) -> tuple[int, int, int]: ...


@cache
def _private_key(secret: bytes) -> PrivateKey:
    return PrivateKey(secret)


def _sign_digest(key: bytes | DigestSigner, digest: bytes) -> tuple[int, int, int]:
    """(recovery id, r, s): in software for a secret, else by the key's own signer."""
    if not isinstance(key, bytes):
        return key.sign_digest(digest)
    signature = _private_key(key).sign_recoverable(digest, hasher=None)
    return (
        signature[64],
        int.from_bytes(signature[:32], "big"),
        int.from_bytes(signature[32:64], "big"),
    )


def sign_legacy(
    secret: bytes | DigestSigner,
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
    import rlp

    to_field = to or b""
    unsigned = rlp.encode([nonce, gas_price, gas, to_field, value, data, chain_id, 0, 0])
    recovery_id, r, s = _sign_digest(secret, keccak(unsigned))
    v = recovery_id + 35 + 2 * chain_id
    return bytes(rlp.encode([nonce, gas_price, gas, to_field, value, data, v, r, s]))


DYNAMIC_FEE_TYPE = 2  # EIP-1559 transaction type byte


def sign_dynamic_fee(
    secret: bytes | DigestSigner,
    *,
    nonce: int,
    max_priority_fee: int,
    max_fee: int,
    gas: int,
    to: bytes | None,
    value: int,
    data: bytes,
    chain_id: int,
) -> bytes:
    """The raw signed transaction (0x02 || RLP) for an EIP-1559 transaction, no access list."""
    import rlp

    fields = [chain_id, nonce, max_priority_fee, max_fee, gas, to or b"", value, data, []]
    payload = bytes([DYNAMIC_FEE_TYPE]) + rlp.encode(fields)
    recovery_id, r, s = _sign_digest(secret, keccak(payload))
    return bytes([DYNAMIC_FEE_TYPE]) + rlp.encode([*fields, recovery_id, r, s])


@dataclass(frozen=True)
class SignedFields:
    """What a signed transaction commits to, as far as resending and replay checks need."""

    nonce: int
    gas: int
    to: str | None
    data: bytes
    max_fee: int  # the gas price of a legacy transaction
    max_priority_fee: int  # equal to the gas price of a legacy transaction
    dynamic: bool


def decode_signed(raw: bytes) -> SignedFields:
    """The fields of a raw signed legacy or EIP-1559 transaction."""
    import rlp

    if raw[0] == DYNAMIC_FEE_TYPE:
        f = rlp.decode(raw[1:])
        nonce, priority, max_fee, gas, to, data = f[1], f[2], f[3], f[4], f[5], f[7]
        dynamic = True
    else:
        f = rlp.decode(raw)
        nonce, priority, gas, to, data = f[0], f[1], f[2], f[3], f[5]
        max_fee = priority
        dynamic = False
    return SignedFields(
        nonce=int.from_bytes(nonce, "big"),
        gas=int.from_bytes(gas, "big"),
        to="0x" + bytes(to).hex() if to else None,
        data=bytes(data),
        max_fee=int.from_bytes(max_fee, "big"),
        max_priority_fee=int.from_bytes(priority, "big"),
        dynamic=dynamic,
    )


@dataclass(frozen=True)
class SignedTx:
    """A raw signed transaction as submitted by a client: its hash, the recovered sender, the
    chain it was signed for and the fields it commits to."""

    hash: str
    sender: str
    chain_id: int | None  # None: a pre-EIP-155 legacy transaction, valid on every chain
    value: int
    fields: SignedFields


class MalformedTransaction(ValueError):
    """Bytes that are not a legacy or EIP-1559 signed transaction."""


def read_signed(raw: bytes) -> SignedTx:
    """Decode a raw signed legacy or EIP-1559 transaction and recover its sender."""
    import rlp

    try:
        if raw[:1] == bytes([DYNAMIC_FEE_TYPE]):
            items = rlp.decode(raw[1:])
            if len(items) != 12:
                raise MalformedTransaction("an EIP-1559 transaction has 12 fields")
            chain_id: int | None = _int(items[0])
            value = _int(items[6])
            message = keccak(bytes([DYNAMIC_FEE_TYPE]) + rlp.encode(items[:9]))
            recovery, r, s = _int(items[9]), items[10], items[11]
        elif raw[:1] and raw[0] >= 0xC0:
            items = rlp.decode(raw)
            if len(items) != 9:
                raise MalformedTransaction("a legacy transaction has 9 fields")
            v = _int(items[6])
            value = _int(items[4])
            if v in (27, 28):
                chain_id, recovery = None, v - 27
                message = keccak(rlp.encode(items[:6]))
            else:
                chain_id, recovery = (v - 35) // 2, (v - 35) % 2
                message = keccak(rlp.encode([*items[:6], chain_id, 0, 0]))
            r, s = items[7], items[8]
        else:
            raise MalformedTransaction(f"transaction type 0x{raw[:1].hex()} is not supported")
        if recovery not in (0, 1):
            raise MalformedTransaction("the signature's recovery id is not 0 or 1")
        signature = bytes(r).rjust(32, b"\0") + bytes(s).rjust(32, b"\0") + bytes([recovery])
        public = PublicKey.from_signature_and_message(signature, message, hasher=None)
        sender = "0x" + keccak(public.format(compressed=False)[1:])[-20:].hex()
        fields = decode_signed(raw)
    except (rlp.exceptions.RLPException, ValueError, IndexError, TypeError) as exc:
        if isinstance(exc, MalformedTransaction):
            raise
        raise MalformedTransaction(f"not a signed transaction: {exc}") from None
    return SignedTx("0x" + keccak(raw).hex(), sender, chain_id, value, fields)


def _int(item: bytes | list[bytes]) -> int:
    if not isinstance(item, bytes):
        raise MalformedTransaction("a number field holds a list")
    return int.from_bytes(item, "big")
