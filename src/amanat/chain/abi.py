"""ABI encoding of calls, decoding of results, events and revert data for Amanat's contracts."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any

from eth_abi import decode, encode
from eth_abi.exceptions import DecodingError
from eth_utils import function_signature_to_4byte_selector, keccak, to_checksum_address

from amanat.chain.artifacts import load

ERROR_SELECTOR = function_signature_to_4byte_selector("Error(string)")
PANIC_SELECTOR = function_signature_to_4byte_selector("Panic(uint256)")


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
        return function_signature_to_4byte_selector(self.signature)

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
        except DecodingError as exc:
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
        if isinstance(value, str) and len(value) == 42 and value[:2] in ("0x", "0X"):
            try:
                return bytes(12) + bytes.fromhex(value[2:])
            except ValueError:
                return None
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
    """ABI-encode arguments that are static words or dynamic arrays of static words, ~100x
    faster than eth-abi (payout batches carry thousands of words); None for anything else."""
    if len(types) != len(args):
        return None
    heads: list[bytes] = []
    tails: list[bytes] = []
    offset = 32 * len(types)
    for abi_type, value in zip(types, args, strict=True):
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
