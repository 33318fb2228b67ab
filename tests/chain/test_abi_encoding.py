"""The fast ABI encoder for simple calls gives exactly eth-abi's bytes, and defers otherwise; the
decoder of results gives exactly eth-abi's values for canonical data and leaves the rest to
eth-abi; keccak and EIP-55 give exactly eth-utils' (so that a read of the chain needs neither
eth-abi nor eth-utils, see tests/integration/test_11_startup.py)."""

from __future__ import annotations

import eth_utils
import pytest
from eth_abi import decode as eth_abi_decode
from eth_abi import encode
from hypothesis import given, settings
from hypothesis import strategies as st

from amanat.chain.abi import _decode_tuple, _encode_simple, decode
from amanat.domain import evm

addresses = st.binary(min_size=20, max_size=20).map(lambda b: "0x" + b.hex())
uint256 = st.integers(0, 2**256 - 1)
TYPES = ("uint256", "uint256[]", "address[]", "bytes32[]", "bool", "uint8", "bytes4", "address")


@settings(max_examples=200, deadline=None)
@given(
    st.tuples(
        uint256,
        st.lists(uint256, max_size=6),
        st.lists(addresses, max_size=6),
        st.lists(st.binary(min_size=32, max_size=32), max_size=6),
        st.booleans(),
        st.integers(0, 255),
        st.binary(min_size=4, max_size=4),
        addresses,
    )
)
def test_fast_encoding_equals_eth_abi(args):
    assert _encode_simple(TYPES, args) == encode(list(TYPES), list(args))


def test_values_it_cannot_vouch_for_go_to_eth_abi():
    assert _encode_simple(("uint8",), (256,)) is None  # out of range: eth-abi reports it
    assert _encode_simple(("uint256",), (-1,)) is None
    assert _encode_simple(("address",), ("0x1234",)) is None
    assert _encode_simple(("bytes32",), (b"short",)) is None
    assert _encode_simple(("string",), ("text",)) is None
    assert _encode_simple(("uint256[][]",), ([[1]],)) is None
    assert _encode_simple(("bool",), (1,)) is None


def test_byte_strings_and_checksums_as_eth_abi():
    """Byte strings are encoded here too; an address with a wrong EIP-55 checksum or anything
    but 40 hex digits is left to eth-abi, which refuses it."""
    good = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
    args = (b"\x01" * 33, good, b"")
    assert _encode_simple(("bytes", "address", "bytes"), args) == encode(
        ["bytes", "address", "bytes"], list(args)
    )
    assert _encode_simple(("address",), (good.replace("a", "A", 1),)) is None
    assert _encode_simple(("address",), ("0x" + "ab " * 13 + "a",)) is None
    assert _encode_simple(("bytes",), (bytearray(b"x"),)) is None


# Every kind of type the contracts return: static words, byte strings, strings, arrays of each,
# fixed arrays and structs holding dynamic members.
RESULT_TYPES = [
    "uint256",
    "int24",
    "address",
    "bool",
    "bytes3",
    "bytes",
    "string",
    "uint16[]",
    "address[2]",
    "(uint8,string,bytes32[])",
    "(address,uint256)[]",
    "string[]",
]
results = st.tuples(
    uint256,
    st.integers(-(2**23), 2**23 - 1),
    addresses,
    st.booleans(),
    st.binary(min_size=3, max_size=3),
    st.binary(max_size=70),
    st.text(max_size=40),
    st.lists(st.integers(0, 2**16 - 1), max_size=5),
    st.tuples(addresses, addresses),
    st.tuples(
        st.integers(0, 255),
        st.text(max_size=10),
        st.lists(st.binary(min_size=32, max_size=32), max_size=3),
    ),
    st.lists(st.tuples(addresses, uint256), max_size=3),
    st.lists(st.text(max_size=8), max_size=3),
)


@settings(max_examples=150, deadline=None)
@given(results)
def test_results_are_decoded_here_exactly_as_eth_abi_decodes_them(values):
    data = encode(RESULT_TYPES, list(values))
    assert _decode_tuple(RESULT_TYPES, data, 0)[1] == len(data)  # decoded here, not by eth-abi
    ours = decode(RESULT_TYPES, data)
    assert ours == eth_abi_decode(RESULT_TYPES, data)
    assert [type(v) for v in ours] == [type(v) for v in eth_abi_decode(RESULT_TYPES, data)]


def test_data_that_is_not_the_canonical_encoding_is_eth_abis_to_decode_or_refuse():
    canonical = encode(["string", "uint8"], ["hi", 7])
    # the same values with the string placed one word further (valid, not canonical)
    shifted = (96).to_bytes(32, "big") + (7).to_bytes(32, "big") + bytes(32) + canonical[64:]
    assert decode(["string", "uint8"], shifted) == eth_abi_decode(["string", "uint8"], shifted)
    for bad, types in (
        (canonical[:40], ["string", "uint8"]),  # cut short
        ((2).to_bytes(32, "big"), ["bool"]),  # not 0 or 1
        (b"\x01" + bytes(31), ["address"]),  # padding of an address not zero
        ((256).to_bytes(32, "big"), ["uint8"]),  # out of range
        (encode(["bytes"], [b"\xff"]), ["string"]),  # not UTF-8
    ):
        with pytest.raises(Exception) as ours:
            decode(types, bad)
        with pytest.raises(Exception) as theirs:
            eth_abi_decode(types, bad)
        assert type(ours.value) is type(theirs.value)
        assert str(ours.value) == str(theirs.value)


@settings(max_examples=100, deadline=None)
@given(st.binary(min_size=20, max_size=20), st.binary(max_size=80))
def test_keccak_and_eip55_as_eth_utils(raw, data):
    lower = "0x" + raw.hex()
    for address in (lower, lower.upper().replace("0X", "0x"), eth_utils.to_checksum_address(lower)):
        assert evm.to_checksum_address(address) == eth_utils.to_checksum_address(address)
    assert evm.to_checksum_address(raw) == eth_utils.to_checksum_address(raw)  # eth-utils' own
    assert evm.keccak(data) == eth_utils.keccak(data)
    assert evm.keccak(text=data.hex()) == eth_utils.keccak(text=data.hex())
    with pytest.raises(ValueError):
        evm.to_checksum_address("0x1234")
