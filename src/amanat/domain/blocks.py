"""A block's commitments recomputed from its JSON-RPC form: what authenticates archived history.

A block header commits to its transactions (`transactionsRoot`), its receipts and so their logs
(`receiptsRoot`, `logsBloom`) through ordered Merkle-Patricia tries of their EIP-2718 encodings,
and its hash is the Keccak-256 of its own RLP. `block_problem` recomputes all of that from a
block as eth_getBlockByNumber(n, true) and eth_getBlockReceipts(n) give it, and checks every other
field of the answer (hashes, indexes, senders, gas used, effective gas prices, created contract
addresses) against what the committed content implies, so that a block whose hash a trusted node
vouches for can be served from an untrusted store. Transaction types 0 (legacy, EIP-155 or not),
1 (EIP-2930), 2 (EIP-1559), 3 (EIP-4844) and 4 (EIP-7702); an unknown type or field is a problem
(nothing unchecked is served).

Pure: RLP, the trie and the bloom are written here; Keccak-256 from `amanat.domain.evm`,
secp256k1 public-key recovery from coincurve (a dependency already).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any

from amanat.domain.evm import keccak

Rlp = bytes | Sequence["Rlp"]

# keccak(rlp(b"")): the root of an empty trie
EMPTY_TRIE_ROOT = keccak(b"\x80")
# fake_exponential's denominator for the blob base fee (Prague, EIP-7691)
BLOB_BASE_FEE_UPDATE_FRACTION = 5_007_716

# A header's fields in RLP order; those after baseFeePerGas appear from later forks on.
HEADER_FIELDS = (
    "parentHash", "sha3Uncles", "miner", "stateRoot", "transactionsRoot", "receiptsRoot",
    "logsBloom", "difficulty", "number", "gasLimit", "gasUsed", "timestamp", "extraData",
    "mixHash", "nonce", "baseFeePerGas", "withdrawalsRoot", "blobGasUsed", "excessBlobGas",
    "parentBeaconBlockRoot", "requestsHash",
)  # fmt: skip
_HEADER_QUANTITIES = frozenset(
    {"difficulty", "number", "gasLimit", "gasUsed", "timestamp", "baseFeePerGas",
     "blobGasUsed", "excessBlobGas"}
)  # fmt: skip
# a block's answer beside its header fields: checked below
_BLOCK_EXTRAS = frozenset({"hash", "totalDifficulty", "size", "uncles", "withdrawals"})

# the signed fields of each transaction type, in RLP order (signature fields last)
_SIGNED = {
    1: ("chainId", "nonce", "gasPrice", "gas", "to", "value", "input", "accessList"),
    2: ("chainId", "nonce", "maxPriorityFeePerGas", "maxFeePerGas", "gas", "to", "value",
        "input", "accessList"),
    3: ("chainId", "nonce", "maxPriorityFeePerGas", "maxFeePerGas", "gas", "to", "value",
        "input", "accessList", "maxFeePerBlobGas", "blobVersionedHashes"),
    4: ("chainId", "nonce", "maxPriorityFeePerGas", "maxFeePerGas", "gas", "to", "value",
        "input", "accessList", "authorizationList"),
}  # fmt: skip
_LEGACY_SIGNED = ("nonce", "gasPrice", "gas", "to", "value", "input")
_TX_CONTEXT = frozenset(
    {"type", "hash", "blockHash", "blockNumber", "blockTimestamp", "transactionIndex", "from",
     "v", "yParity", "r", "s", "gasPrice", "chainId"}
)  # fmt: skip
_RECEIPT_FIELDS = frozenset(
    {"type", "status", "cumulativeGasUsed", "logs", "logsBloom", "transactionHash",
     "transactionIndex", "blockHash", "blockNumber", "blockTimestamp", "gasUsed",
     "effectiveGasPrice", "blobGasPrice", "blobGasUsed", "from", "to", "contractAddress"}
)  # fmt: skip
_LOG_FIELDS = frozenset(
    {"address", "topics", "data", "blockHash", "blockNumber", "blockTimestamp",
     "transactionHash", "transactionIndex", "logIndex", "removed"}
)  # fmt: skip


class BlockMismatch(ValueError):
    """The block's content does not match its header (the message says where)."""


# -- RLP and the trie ------------------------------------------------------------------------


def rlp(item: Rlp) -> bytes:
    """The RLP encoding of a byte string or a (nested) list of them."""
    if isinstance(item, bytes | bytearray):
        if len(item) == 1 and item[0] < 0x80:
            return bytes(item)
        return _length_prefix(len(item), 0x80) + bytes(item)
    payload = b"".join(rlp(element) for element in item)
    return _length_prefix(len(payload), 0xC0) + payload


def _length_prefix(length: int, offset: int) -> bytes:
    if length < 56:
        return bytes([offset + length])
    encoded = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([offset + 55 + len(encoded)]) + encoded


def _nibbles(key: bytes) -> tuple[int, ...]:
    return tuple(n for byte in key for n in (byte >> 4, byte & 15))


def _hex_prefix(nibbles: Sequence[int], leaf: bool) -> bytes:
    flag = 2 * leaf + len(nibbles) % 2
    padded = [flag, *nibbles] if len(nibbles) % 2 else [flag, 0, *nibbles]
    return bytes(padded[i] * 16 + padded[i + 1] for i in range(0, len(padded), 2))


def _node(pairs: list[tuple[tuple[int, ...], bytes]], depth: int) -> Rlp:
    """The trie node (as an RLP structure) over `pairs` (nibble key, value), all of whose keys
    agree on their first `depth` nibbles."""
    if len(pairs) == 1:
        key, value = pairs[0]
        return [_hex_prefix(key[depth:], leaf=True), value]
    shared = depth
    first = pairs[0][0]
    while all(len(k) > shared and k[shared] == first[shared] for k, _ in pairs):
        shared += 1
    if shared > depth:
        return [_hex_prefix(first[depth:shared], leaf=False), _reference(_node(pairs, shared))]
    branch: list[Rlp] = [b""] * 17
    below: dict[int, list[tuple[tuple[int, ...], bytes]]] = {}
    for key, value in pairs:
        if len(key) == depth:
            branch[16] = value
        else:
            below.setdefault(key[depth], []).append((key, value))
    for nibble, group in below.items():
        branch[nibble] = _reference(_node(group, depth + 1))
    return branch


def _reference(node: Rlp) -> Rlp:
    """How a parent refers to a child node: inline if its RLP is under 32 bytes, else its hash."""
    encoded = rlp(node)
    return node if len(encoded) < 32 else keccak(encoded)


def ordered_trie_root(values: Sequence[bytes]) -> bytes:
    """The root of the Merkle-Patricia trie mapping rlp(i) to values[i] (a block's transactions
    or receipts trie)."""
    if not values:
        return EMPTY_TRIE_ROOT
    pairs = sorted((_nibbles(rlp(_int(i))), value) for i, value in enumerate(values))
    return keccak(rlp(_node(pairs, 0)))


# -- JSON-RPC values ------------------------------------------------------------------------


def _int(value: int) -> bytes:
    return value.to_bytes((value.bit_length() + 7) // 8, "big")


# JSON-RPC's own forms only (a quantity without leading zeros, data as whole bytes): a form some
# readers take differently ("0x0_1" is 1 to Python's int() and 0 to JavaScript's parseInt, a JSON
# number, hex with spaces) is refused, though the roots would still match the value it parses to
_QUANTITY = re.compile(r"0x(?:0|[1-9a-fA-F][0-9a-fA-F]*)")
_DATA = re.compile(r"0x(?:[0-9a-fA-F]{2})*")


def _quantity(value: Any) -> int:
    if not isinstance(value, str) or not _QUANTITY.fullmatch(value):
        raise BlockMismatch(f"{value!r} is not a quantity")
    return int(value, 16)


def _data(value: Any) -> bytes:
    if not isinstance(value, str) or not _DATA.fullmatch(value):
        raise BlockMismatch(f"{value!r} is not hex data")
    return bytes.fromhex(value[2:])


def _same(a: Any, b: Any) -> bool:
    return (a.lower() if isinstance(a, str) else a) == (b.lower() if isinstance(b, str) else b)


@lru_cache(maxsize=8192)
def _bloom_bits(item: str) -> int:
    """The three bloom bits of an address or topic (hex); cached: a block's logs repeat a few
    addresses and topics many times."""
    digest = keccak(_data(item.lower()))
    bits = 0
    for i in (0, 2, 4):
        bits |= 1 << (int.from_bytes(digest[i : i + 2], "big") & 2047)
    return bits


def logs_bloom(logs: Iterable[dict[str, Any]]) -> bytes:
    """The 2048-bit bloom filter of `logs` (Ethereum yellow paper, section 4.3.1)."""
    bloom = 0
    for log in logs:
        bloom |= _bloom_bits(log["address"])
        for topic in log["topics"]:
            bloom |= _bloom_bits(topic)
    return bloom.to_bytes(256, "big")


def bloom_may_hold(bloom: bytes, item: bytes) -> bool:
    """Whether an address or topic `item` may be in `bloom` (no false negatives)."""
    value = int.from_bytes(bloom, "big")
    digest = keccak(item)
    return all(value >> (int.from_bytes(digest[i : i + 2], "big") & 2047) & 1 for i in (0, 2, 4))


# -- encodings -----------------------------------------------------------------------------


def header_hash(block: dict[str, Any]) -> bytes:
    """Keccak-256 of the header's RLP, from a block as JSON-RPC gives it."""
    fields: list[Rlp] = []
    for name in HEADER_FIELDS:
        if name not in block:
            break
        value = block[name]
        fields.append(_int(_quantity(value)) if name in _HEADER_QUANTITIES else _data(value))
    return keccak(rlp(fields))


def _field(tx: dict[str, Any], name: str) -> Rlp:
    value = tx.get(name)
    if name == "to":
        return b"" if value is None else _data(value)
    if name == "input":
        return _data(value)
    if name == "accessList":
        return [
            [_data(entry["address"]), [_data(key) for key in entry["storageKeys"]]]
            for entry in value or []
        ]
    if name == "blobVersionedHashes":
        return [_data(h) for h in value or []]
    if name == "authorizationList":
        return [
            [_int(_quantity(a[k])) for k in ("chainId",)]
            + [_data(a["address"])]
            + [_int(_quantity(a[k])) for k in ("nonce", "yParity", "r", "s")]
            for a in value or []
        ]
    return _int(_quantity(value))


def _transaction_type(tx: dict[str, Any]) -> int:
    kind = _quantity(tx.get("type", "0x0"))
    if kind != 0 and kind not in _SIGNED:
        raise BlockMismatch(f"transaction type {kind} is not one this archive can check")
    return kind


def transaction_encoding(tx: dict[str, Any]) -> tuple[bytes, bytes]:
    """(EIP-2718 encoding, signing hash) of a signed transaction as JSON-RPC gives it."""
    kind = _transaction_type(tx)
    signature = [_int(_quantity(tx["r"])), _int(_quantity(tx["s"]))]
    if kind == 0:
        body = [_field(tx, name) for name in _LEGACY_SIGNED]
        v = _quantity(tx["v"])
        unsigned = body if v in (27, 28) else [*body, _int((v - 35) // 2), b"", b""]
        return rlp([*body, _int(v), *signature]), keccak(rlp(unsigned))
    body = [_field(tx, name) for name in _SIGNED[kind]]
    parity = _int(_quantity(tx.get("yParity", tx.get("v"))))
    prefix = bytes([kind])
    return prefix + rlp([*body, parity, *signature]), keccak(prefix + rlp(body))


def _sender(tx: dict[str, Any], signing_hash: bytes) -> str:
    kind = _transaction_type(tx)
    if kind == 0:
        v = _quantity(tx["v"])
        parity = v - 27 if v in (27, 28) else (v - 35) % 2
    else:
        parity = _quantity(tx.get("yParity", tx.get("v")))
    signature = (
        _quantity(tx["r"]).to_bytes(32, "big") + _quantity(tx["s"]).to_bytes(32, "big")
    ) + bytes([parity])
    from coincurve import PublicKey  # here: importing it costs every CLI command that reads

    try:
        key = PublicKey.from_signature_and_message(signature, signing_hash, hasher=None)
    except Exception as exc:  # coincurve raises a bare Exception for an invalid signature
        raise BlockMismatch(f"transaction {tx.get('hash')}: invalid signature") from exc
    return _address_of(key.format(compressed=False))


@lru_cache(maxsize=4096)
def _address_of(public_key: bytes) -> str:
    """The address of an uncompressed public key; cached: a chain has few senders."""
    return "0x" + keccak(public_key[1:])[12:].hex()


def receipt_encoding(receipt: dict[str, Any], bloom: bytes) -> bytes:
    """EIP-2718 encoding of a (post-Byzantium) receipt as JSON-RPC gives it, with `bloom`, its
    logs' bloom."""
    kind = _quantity(receipt.get("type", "0x0"))
    body = rlp(
        [
            _int(_quantity(receipt["status"])),
            _int(_quantity(receipt["cumulativeGasUsed"])),
            bloom,
            [
                [_data(log["address"]), [_data(t) for t in log["topics"]], _data(log["data"])]
                for log in receipt["logs"]
            ],
        ]
    )
    return body if kind == 0 else bytes([kind]) + body


def _blob_base_fee(excess: int) -> int:
    """EIP-4844's fake_exponential(1, excess, BLOB_BASE_FEE_UPDATE_FRACTION)."""
    i, output, accumulator = 1, 0, BLOB_BASE_FEE_UPDATE_FRACTION
    while accumulator > 0:
        output += accumulator
        accumulator = accumulator * excess // (BLOB_BASE_FEE_UPDATE_FRACTION * i)
        i += 1
    return output // BLOB_BASE_FEE_UPDATE_FRACTION


# -- the check ------------------------------------------------------------------------------


def block_problem(
    block: dict[str, Any], receipts: list[dict[str, Any]], node_hash: str
) -> str | None:
    """What in `block` (eth_getBlockByNumber(n, true)) and its `receipts`
    (eth_getBlockReceipts(n), logs blooms optional) does not follow from the header whose hash
    a trusted node gives as `node_hash`; None when everything does."""
    try:
        _check(block, receipts, node_hash)
    except BlockMismatch as mismatch:
        return str(mismatch)
    except (KeyError, TypeError, ValueError, IndexError) as malformed:
        return f"malformed ({type(malformed).__name__}: {malformed})"
    return None


def _expect(what: str, found: Any, wanted: Any) -> None:
    if not _same(found, wanted):
        raise BlockMismatch(f"{what} is {found!r}, the header implies {wanted!r}")


def _root(name: str, in_header: str, computed: bytes, of_what: str) -> None:
    if not _same(in_header, "0x" + computed.hex()):
        raise BlockMismatch(
            f"the header's {name} is {in_header}, the archived {of_what} give 0x{computed.hex()}"
        )


def _check(block: dict[str, Any], receipts: list[dict[str, Any]], node_hash: str) -> None:
    unknown = set(block) - set(HEADER_FIELDS) - _BLOCK_EXTRAS - {"transactions"}
    if unknown:
        raise BlockMismatch(f"unchecked block fields {sorted(unknown)}")
    computed = "0x" + header_hash(block).hex()
    _expect("the header's hash", computed, node_hash)
    _expect("the block's hash", block["hash"], node_hash)
    _expect("uncles", block.get("uncles", []), [])
    _expect("sha3Uncles", block["sha3Uncles"], "0x" + keccak(rlp([])).hex())
    if block.get("withdrawals"):
        raise BlockMismatch("withdrawals are not checked")
    if "withdrawalsRoot" in block:
        _expect("withdrawalsRoot", block["withdrawalsRoot"], "0x" + EMPTY_TRIE_ROOT.hex())
    number, timestamp = block["number"], block["timestamp"]
    base_fee = _quantity(block.get("baseFeePerGas", "0x0"))
    transactions = block["transactions"]
    encodings = []
    senders = []
    for index, tx in enumerate(transactions):
        where = f"transaction {index}"
        kind = _transaction_type(tx)
        allowed = _TX_CONTEXT | set(_SIGNED.get(kind, _LEGACY_SIGNED))
        unknown = set(tx) - allowed
        if unknown:
            raise BlockMismatch(f"{where}: unchecked fields {sorted(unknown)}")
        encoded, signing_hash = transaction_encoding(tx)
        encodings.append(encoded)
        _expect(f"{where}'s hash", tx["hash"], "0x" + keccak(encoded).hex())
        sender = _sender(tx, signing_hash)
        senders.append(sender)
        context = {"blockHash": node_hash, "blockNumber": number, "from": sender,
                   "transactionIndex": hex(index), "blockTimestamp": timestamp}  # fmt: skip
        if kind == 0:
            v = _quantity(tx["v"])
            if v in (27, 28) and "chainId" in tx:
                raise BlockMismatch(f"{where}: a chainId beside a signature without one")
            if "chainId" in tx:
                context["chainId"] = hex((v - 35) // 2)
            context["yParity"] = hex(v - 27 if v in (27, 28) else (v - 35) % 2)
        else:
            context["v"] = tx.get("yParity", tx.get("v"))
            context["yParity"] = tx.get("v")
        if kind >= 2 and "gasPrice" in tx:
            context["gasPrice"] = hex(_effective_price(tx, base_fee))
        for name, wanted in context.items():
            if name in tx:
                _expect(f"{where}'s {name}", tx[name], wanted)
    _root("transactionsRoot", block["transactionsRoot"], ordered_trie_root(encodings),
          "transactions")  # fmt: skip
    if len(receipts) != len(transactions):
        raise BlockMismatch(f"{len(receipts)} receipts for {len(transactions)} transactions")
    blooms = [logs_bloom(receipt["logs"]) for receipt in receipts]
    receipt_encodings = [receipt_encoding(r, b) for r, b in zip(receipts, blooms, strict=True)]
    _root("receiptsRoot", block["receiptsRoot"], ordered_trie_root(receipt_encodings), "receipts")
    union = 0
    for bloom in blooms:
        union |= int.from_bytes(bloom, "big")
    _root("logsBloom", block["logsBloom"], union.to_bytes(256, "big"), "receipts' logs")
    _check_receipts(block, receipts, blooms, senders, node_hash, base_fee)
    extras = {"totalDifficulty": "0x0", "size": hex(_block_size(block, encodings))}
    for name, wanted in extras.items():
        if name in block:
            _expect(name, block[name], wanted)


def _effective_price(tx: dict[str, Any], base_fee: int) -> int:
    if _transaction_type(tx) < 2:
        return _quantity(tx["gasPrice"])
    priority = _quantity(tx["maxPriorityFeePerGas"])
    return min(_quantity(tx["maxFeePerGas"]), base_fee + priority)


def _block_size(block: dict[str, Any], encodings: list[bytes]) -> int:
    header = rlp(
        [
            _int(_quantity(block[n])) if n in _HEADER_QUANTITIES else _data(block[n])
            for n in HEADER_FIELDS
            if n in block
        ]
    )
    # in a block's body a legacy transaction is its RLP list, a typed one a byte string
    body = b"".join(e if e[0] >= 0xC0 else rlp(e) for e in encodings)
    parts = header + _length_prefix(len(body), 0xC0) + body + rlp([])  # and no uncles
    return len(_length_prefix(len(parts), 0xC0)) + len(parts)


def _check_receipts(
    block: dict[str, Any],
    receipts: list[dict[str, Any]],
    blooms: list[bytes],
    senders: list[str],
    node_hash: str,
    base_fee: int,
) -> None:
    number, timestamp = block["number"], block["timestamp"]
    blob_price = hex(_blob_base_fee(_quantity(block.get("excessBlobGas", "0x0"))))
    used = 0
    log_index = 0
    for index, (receipt, bloom, tx, sender) in enumerate(
        zip(receipts, blooms, block["transactions"], senders, strict=True)
    ):
        where = f"receipt {index}"
        unknown = set(receipt) - _RECEIPT_FIELDS
        if unknown:
            raise BlockMismatch(f"{where}: unchecked fields {sorted(unknown)}")
        cumulative = _quantity(receipt["cumulativeGasUsed"])
        creates = tx.get("to") is None
        context = {
            "type": tx.get("type", "0x0"),
            "transactionHash": tx["hash"],
            "transactionIndex": hex(index),
            "blockHash": node_hash,
            "blockNumber": number,
            "blockTimestamp": _quantity(timestamp),
            "gasUsed": hex(cumulative - used),
            "effectiveGasPrice": hex(_effective_price(tx, base_fee)),
            "blobGasPrice": blob_price,
            "blobGasUsed": hex(131_072 * len(tx.get("blobVersionedHashes") or [])),
            "from": sender,
            "to": tx.get("to"),
            "contractAddress": _created(sender, _quantity(tx["nonce"])) if creates else None,
        }
        used = cumulative
        for name, wanted in context.items():
            if name in receipt:
                found = receipt[name]
                if name == "blockTimestamp" and not (type(found) is int and found < 2**53):
                    found = _quantity(found)  # anvil gives a receipt's time as a JSON number
                _expect(f"{where}'s {name}", found, wanted)
        if "logsBloom" in receipt:
            _expect(f"{where}'s logsBloom", receipt["logsBloom"], "0x" + bloom.hex())
        for log in receipt["logs"]:
            unknown = set(log) - _LOG_FIELDS
            if unknown:
                raise BlockMismatch(
                    f"{where}'s log {log_index}: unchecked fields {sorted(unknown)}"
                )
            log_context = {
                "blockHash": node_hash,
                "blockNumber": number,
                "blockTimestamp": timestamp,
                "transactionHash": tx["hash"],
                "transactionIndex": hex(index),
                "logIndex": hex(log_index),
                "removed": False,
            }
            for name, wanted in log_context.items():
                if name in log:
                    _expect(f"{where}'s log {log_index} {name}", log[name], wanted)
            log_index += 1
    _expect("gasUsed", block["gasUsed"], hex(used))


def _created(sender: str, nonce: int) -> str:
    return "0x" + keccak(rlp([_data(sender), _int(nonce)]))[12:].hex()
