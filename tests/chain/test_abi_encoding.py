"""The fast ABI encoder for simple calls gives exactly eth-abi's bytes, and defers otherwise."""

from __future__ import annotations

from eth_abi import encode
from hypothesis import given, settings
from hypothesis import strategies as st

from amanat.chain.abi import _encode_simple

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
