"""ABI encoding of calls, decoding of results, events and revert data for Amanat's contracts.

Canonically encoded results (what a node returns for Amanat's contracts) are decoded here; eth-abi
(and the eth-utils and pydantic it imports, ~0.15 s) is imported only for anything else, so that
it decodes, or refuses with its own error, exactly what it always did, and for encoding
arguments that are not simple words."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any

from amanat.chain.artifacts import load
from amanat.domain.evm import HEX_ADDRESS, keccak, to_checksum_address


def selector(signature: str) -> bytes:
    """The 4-byte selector of a function signature, e.g. 'transfer(address,uint256)'."""
    return keccak(text=signature)[:4]


ERROR_SELECTOR = selector("Error(string)")
PANIC_SELECTOR = selector("Panic(uint256)")


def encode(types: Sequence[str], values: Sequence[Any]) -> bytes:
    """eth-abi's `encode`: words, byte strings and arrays of words here, anything else (and any
    value it refuses) by eth-abi, imported then."""
    simple = _encode_simple(tuple(types), tuple(values))
    if simple is not None:
        return simple
    from eth_abi import encode as eth_abi_encode

    return eth_abi_encode(list(types), list(values))


def decode(types: list[str], data: bytes) -> tuple[Any, ...]:
    """eth-abi's `decode`, values as it returns them (arrays as tuples, addresses in lower case):
    decoded here when `data` is the canonical encoding, else by eth-abi (imported then)."""
    try:
        values, size = _decode_tuple(types, data, 0)
    except _NotCanonical:
        values, size = (), -1
    if size == len(data):
        return values
    from eth_abi import decode as eth_abi_decode

    return tuple(eth_abi_decode(types, data))


def decoding_error() -> type[Exception]:
    """eth-abi's DecodingError (imported on first use)."""
    from eth_abi.exceptions import DecodingError

    return DecodingError


class _NotCanonical(Exception):
    """Data that is not the canonical encoding of the types: left to eth-abi to decode or
    refuse."""


def _is_dynamic(abi_type: str) -> bool:
    if abi_type in ("bytes", "string") or abi_type.endswith("[]"):
        return True
    if abi_type.endswith("]"):
        return _is_dynamic(abi_type[: abi_type.rindex("[")])
    if abi_type.startswith("("):
        return any(_is_dynamic(t) for t in _components(abi_type))
    return False


def _decode_tuple(types: list[str], data: bytes, start: int) -> tuple[tuple[Any, ...], int]:
    """The values of `types` encoded at `data[start:]` and the size of their encoding; raises
    _NotCanonical unless every offset is where the canonical encoding puts it and every padding
    byte is zero."""
    heads = [(t, _is_dynamic(t)) for t in types]
    position = start
    tail = start + sum(32 if dynamic else _static_size(t) for t, dynamic in heads)
    values = []
    for abi_type, dynamic in heads:
        if dynamic:
            offset = _uint(data, position)
            if start + offset != tail:
                raise _NotCanonical
            value, size = _decode_at(abi_type, data, tail)
            tail += size
            position += 32
        else:
            value, size = _decode_at(abi_type, data, position)
            position += size
        values.append(value)
    return tuple(values), tail - start


def _static_size(abi_type: str) -> int:
    if abi_type.endswith("]"):
        inner, count = abi_type[: abi_type.rindex("[")], abi_type[abi_type.rindex("[") + 1 : -1]
        return int(count) * _static_size(inner)
    if abi_type.startswith("("):
        return sum(_static_size(t) for t in _components(abi_type))
    return 32


def _uint(data: bytes, position: int) -> int:
    word = data[position : position + 32]
    if len(word) != 32:
        raise _NotCanonical
    return int.from_bytes(word, "big")


def _decode_at(abi_type: str, data: bytes, position: int) -> tuple[Any, int]:
    """One value of `abi_type` encoded at `data[position:]` and the size of its encoding."""
    if abi_type in ("bytes", "string"):
        length = _uint(data, position)
        padded = 32 * ((length + 31) // 32)
        if length > len(data) or position + 32 + padded > len(data):
            raise _NotCanonical
        value = data[position + 32 : position + 32 + length]
        if any(data[position + 32 + length : position + 32 + padded]):
            raise _NotCanonical
        if abi_type == "bytes":
            return bytes(value), 32 + padded
        try:
            return value.decode("utf-8"), 32 + padded
        except UnicodeDecodeError:
            raise _NotCanonical from None
    if abi_type.endswith("]"):
        inner, count = abi_type[: abi_type.rindex("[")], abi_type[abi_type.rindex("[") + 1 : -1]
        if count:
            return _decode_tuple([inner] * int(count), data, position)
        length = _uint(data, position)
        if length > len(data):
            raise _NotCanonical
        values, size = _decode_tuple([inner] * length, data, position + 32)
        return values, 32 + size
    if abi_type.startswith("("):
        return _decode_tuple(_components(abi_type), data, position)
    word = data[position : position + 32]
    if len(word) != 32:
        raise _NotCanonical
    return _strict_word(word, abi_type), 32


def _strict_word(word: bytes, abi_type: str) -> Any:
    """One static word as eth-abi decodes it (addresses in lower case); _NotCanonical for a
    word with non-zero padding or a type this does not know."""
    if abi_type == "address":
        if any(word[:12]):
            raise _NotCanonical
        return "0x" + word[12:].hex()
    if abi_type == "bool":
        if any(word[:31]) or word[31] > 1:
            raise _NotCanonical
        return word[31] == 1
    if abi_type.startswith("uint") and abi_type[4:].isdigit():
        value = int.from_bytes(word, "big")
        if value >> int(abi_type[4:]):
            raise _NotCanonical
        return value
    if abi_type.startswith("int") and abi_type[3:].isdigit():
        value = int.from_bytes(word, "big", signed=True)
        bound = 1 << (int(abi_type[3:]) - 1)
        if not -bound <= value < bound:
            raise _NotCanonical
        return value
    if abi_type.startswith("bytes") and abi_type[5:].isdigit() and 0 < int(abi_type[5:]) <= 32:
        size = int(abi_type[5:])
        if any(word[size:]):
            raise _NotCanonical
        return bytes(word[:size])
    raise _NotCanonical


def _type(entry: dict[str, Any]) -> str:
    kind = entry["type"]
    if kind.startswith("tuple"):
        inner = ",".join(_type(c) for c in entry["components"])
        return f"({inner}){kind[5:]}"
    return str(kind)


@lru_cache(maxsize=65536)
def checksum(address: str) -> str:
    """EIP-55 form of an address (cached: indexing checksums the same wallets again and again)."""
    return str(to_checksum_address(address))


def _normalise(value: Any, abi_type: str) -> Any:
    """Addresses in EIP-55 form, also inside arrays and tuples (structs)."""
    if abi_type == "address":
        return checksum(value)
    if abi_type.endswith("[]") and isinstance(value, (list, tuple)):
        return [_normalise(v, abi_type[:-2]) for v in value]
    if abi_type.startswith("(") and abi_type.endswith(")") and isinstance(value, tuple):
        return tuple(_normalise(v, t) for v, t in zip(value, _components(abi_type), strict=True))
    return value


def _components(tuple_type: str) -> list[str]:
    """'(address,(uint8,bytes32)[],bool)' -> ['address', '(uint8,bytes32)[]', 'bool']."""
    parts: list[str] = []
    depth = 0
    current = ""
    for char in tuple_type[1:-1]:
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
            continue
        depth += {"(": 1, ")": -1}.get(char, 0)
        current += char
    parts.append(current)
    return parts


@dataclass(frozen=True)
class Function:
    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    output_names: tuple[str, ...]
    input_names: tuple[str, ...] = ()

    @property
    def signature(self) -> str:
        return f"{self.name}({','.join(self.inputs)})"

    @cached_property
    def selector(self) -> bytes:
        return selector(self.signature)

    def encode(self, *args: Any) -> bytes:
        fast = _encode_simple(self.inputs, args)
        if fast is not None:
            return self.selector + fast
        return self.selector + encode(list(self.inputs), list(args))

    def decode_arguments(self, data: bytes) -> tuple[Any, ...]:
        """The arguments of call data to this function (after its selector), addresses in
        EIP-55 form; ValueError unless `data` is exactly their canonical encoding."""
        try:
            values = decode(list(self.inputs), data[4:])
        except decoding_error() as exc:
            raise ValueError(f"the call data is not a call of {self.signature}: {exc}") from None
        if data[:4] != self.selector or self.encode(*values) != data:
            raise ValueError(f"the call data is not a canonical call of {self.signature}")
        return tuple(_normalise(v, t) for v, t in zip(values, self.inputs, strict=True))

    def decode_call(self, call_data: bytes) -> dict[str, Any]:
        """The arguments of a call to this function (selector first), by parameter name."""
        values = decode(list(self.inputs), call_data[4:])
        return {
            name: _normalise(value, abi_type)
            for name, value, abi_type in zip(self.input_names, values, self.inputs, strict=True)
        }

    def decode(self, data: bytes) -> Any:
        values = decode(list(self.outputs), data)
        values = tuple(_normalise(v, t) for v, t in zip(values, self.outputs, strict=True))
        return values[0] if len(values) == 1 else values


@dataclass(frozen=True)
class Event:
    name: str
    topic: bytes
    indexed: tuple[tuple[str, str], ...]
    data: tuple[tuple[str, str], ...]

    @cached_property
    def _static_data(self) -> bool:
        return all(_is_static(t) for _, t in self.data)

    def decode(self, topics: list[bytes], data: bytes) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for (name, abi_type), topic in zip(self.indexed, topics[1:], strict=True):
            if _is_static(abi_type):
                out[name] = _word(topic, abi_type)
            else:
                out[name] = topic  # dynamic indexed values are stored as their hash
        if self._static_data:  # the common case (Transfer & co.): one 32-byte word per value
            for index, (name, abi_type) in enumerate(self.data):
                out[name] = _word(data[32 * index : 32 * index + 32], abi_type)
            return out
        values = decode([t for _, t in self.data], data)
        for (name, abi_type), value in zip(self.data, values, strict=True):
            out[name] = _normalise(value, abi_type)
        return out


def _static_word(value: Any, abi_type: str) -> bytes | None:
    """One ABI word for an address, bool, uintN or bytesN value; None when the value or type is
    not one of these simple cases (eth-abi then encodes, and reports a bad value)."""
    if "[" in abi_type or "(" in abi_type:
        return None
    if abi_type == "address":
        # as eth-abi: 0x and 40 hex digits, a mixed-case address only with its EIP-55 checksum
        if isinstance(value, str) and HEX_ADDRESS.fullmatch(value):
            digits = value[2:]
            if digits in (digits.lower(), digits.upper()) or value == checksum(value):
                return bytes(12) + bytes.fromhex(digits)
        return None
    if abi_type == "bool":
        return (1 if value else 0).to_bytes(32, "big") if isinstance(value, bool) else None
    if abi_type.startswith("uint") and (abi_type[4:] or "256").isdigit():
        bits = int(abi_type[4:] or 256)
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 1 << bits:
            return value.to_bytes(32, "big")
        return None
    if abi_type.startswith("bytes") and abi_type[5:].isdigit():
        size = int(abi_type[5:])
        if isinstance(value, bytes) and len(value) == size:
            return value.ljust(32, b"\x00")
    return None


def _encode_simple(types: tuple[str, ...], args: tuple[Any, ...]) -> bytes | None:
    """ABI-encode arguments that are static words, byte strings or dynamic arrays of static
    words, ~100x faster than eth-abi (payout batches carry thousands of words); None for anything else."""
    if len(types) != len(args):
        return None
    heads: list[bytes] = []
    tails: list[bytes] = []
    offset = 32 * len(types)
    for abi_type, value in zip(types, args, strict=True):
        if abi_type == "bytes":
            if not isinstance(value, bytes):
                return None
            tail = len(value).to_bytes(32, "big") + value + bytes(-len(value) % 32)
            heads.append(offset.to_bytes(32, "big"))
            tails.append(tail)
            offset += len(tail)
            continue
        if abi_type.endswith("[]") and not abi_type.endswith("][]"):
            if not isinstance(value, (list, tuple)):
                return None
            words = [_static_word(v, abi_type[:-2]) for v in value]
            if any(w is None for w in words):
                return None
            tail = len(words).to_bytes(32, "big") + b"".join(w for w in words if w is not None)
            heads.append(offset.to_bytes(32, "big"))
            tails.append(tail)
            offset += len(tail)
            continue
        word = _static_word(value, abi_type)
        if word is None:
            return None
        heads.append(word)
    return b"".join(heads) + b"".join(tails)


def _is_static(abi_type: str) -> bool:
    return abi_type in ("address", "bool") or (
        abi_type.startswith(("uint", "int", "bytes"))
        and abi_type not in ("bytes",)
        and not abi_type.endswith("]")
    )


def _word(word: bytes, abi_type: str) -> Any:
    """Decode one 32-byte ABI word of a static type (eth-abi is ~50x slower for this)."""
    if abi_type == "address":
        return checksum("0x" + word[12:].hex())
    if abi_type == "bool":
        return word[31] == 1
    if abi_type.startswith("uint"):
        return int.from_bytes(word, "big")
    if abi_type.startswith("int"):
        return int.from_bytes(word, "big", signed=True)
    return bytes(word[: int(abi_type[5:])])  # bytesN


class ContractInterface:
    """The functions and events of one compiled contract."""

    def __init__(self, name: str) -> None:
        artifact = load(name)
        self.name = name
        self.functions: dict[str, Function] = {}
        self.events_by_topic: dict[bytes, Event] = {}
        self.events: dict[str, Event] = {}
        for entry in artifact.abi:
            if entry["type"] == "function":
                self.functions[entry["name"]] = Function(
                    name=entry["name"],
                    inputs=tuple(_type(i) for i in entry["inputs"]),
                    outputs=tuple(_type(o) for o in entry["outputs"]),
                    output_names=tuple(o["name"] for o in entry["outputs"]),
                    input_names=tuple(i["name"] for i in entry["inputs"]),
                )
            elif entry["type"] == "event":
                types = ",".join(_type(i) for i in entry["inputs"])
                event = Event(
                    name=entry["name"],
                    topic=keccak(text=f"{entry['name']}({types})"),
                    indexed=tuple((i["name"], _type(i)) for i in entry["inputs"] if i["indexed"]),
                    data=tuple((i["name"], _type(i)) for i in entry["inputs"] if not i["indexed"]),
                )
                self.events_by_topic[event.topic] = event
                self.events[event.name] = event

    def function(self, name: str) -> Function:
        return self.functions[name]


_interfaces: dict[str, ContractInterface] = {}


def interface(name: str) -> ContractInterface:
    if name not in _interfaces:
        _interfaces[name] = ContractInterface(name)
    return _interfaces[name]


def decode_revert(data: bytes) -> str | None:
    """The reason string of an Error(string) revert, a panic description, or None."""
    if data[:4] == ERROR_SELECTOR:
        return str(decode(["string"], data[4:])[0])
    if data[:4] == PANIC_SELECTOR:
        return f"panic 0x{decode(['uint256'], data[4:])[0]:02x} (arithmetic or bounds check)"
    return None


def proposal_call_hash(target: str, call_data: bytes, evidence: bytes) -> bytes:
    """The hash a Governance proposal stores of its call, as `Governance.callHash` computes it:
    keccak256(abi.encode(target, callData, evidence))."""
    return keccak(encode(["address", "bytes", "bytes32"], [target, call_data, evidence]))


DVP_TERMS_TYPE = "(address,address,address,uint256,uint256,uint256)"


def dvp_terms_hash(terms: tuple[str, str, str, int, int, int]) -> bytes:
    """What `Settlement` stores of a DvP instruction's terms (seller, buyer, token, units, cash,
    deadline): keccak256(abi.encode(terms)) with its low byte zeroed (the byte holds the
    state)."""
    digest = keccak(encode(["address", "address", "address", "uint256", "uint256", "uint256"], terms))
    return digest[:31] + b"\x00"
