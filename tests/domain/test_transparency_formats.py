"""Canonical JSON leaves and the signed tree head encoding."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from amanat.domain.transparency import HEAD_DOMAIN, TreeHead, canonical_json, parse_hash
from amanat.errors import InvalidInput


def test_canonical_json_is_sorted_compact_utf8_with_integers() -> None:
    value = {"b": [1, True, None], "a": {"z": "امانت", "y": 2**70}}
    assert canonical_json(value) == (
        '{"a":{"y":1180591620717411303424,"z":"امانت"},"b":[1,true,null]}'.encode()
    )
    with pytest.raises(InvalidInput, match=r"no floats: \$.a\[1\] is 1.5"):
        canonical_json({"a": [1, 1.5]})
    with pytest.raises(InvalidInput, match="keys are strings"):
        canonical_json({1: "x"})
    with pytest.raises(InvalidInput, match="cannot hold bytes"):
        canonical_json({"a": b"x"})


def test_tree_head_encoding_signature_and_round_trip() -> None:
    key = Ed25519PrivateKey.generate()
    public = key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    unsigned = TreeHead(193, bytes(range(32)), 1_795_645_256)
    encoding = unsigned.encoding()
    assert len(encoding) == 80 and encoding.startswith(HEAD_DOMAIN)
    assert encoding[32:40] == (193).to_bytes(8, "big") and encoding[72:] == (
        1_795_645_256
    ).to_bytes(8, "big")
    head = TreeHead(193, unsigned.root_hash, unsigned.timestamp, key.sign(encoding))
    assert head.verify(public)
    again = TreeHead.from_dict(head.as_dict())
    assert again == head and again.verify(public)
    for altered in (
        TreeHead(194, head.root_hash, head.timestamp, head.signature),
        TreeHead(193, bytes(32), head.timestamp, head.signature),
        TreeHead(193, head.root_hash, head.timestamp + 1, head.signature),
    ):
        assert not altered.verify(public)
    other = Ed25519PrivateKey.generate().public_key()
    assert not head.verify(
        other.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )
    assert not head.verify(b"short")


def test_malformed_heads_and_hashes_are_named() -> None:
    with pytest.raises(InvalidInput, match="lacks the field 'signature'"):
        TreeHead.from_dict({"tree_size": 1, "root_hash": "0x" + "00" * 32, "timestamp": 1})
    with pytest.raises(InvalidInput, match="root_hash '0x12' is not 32 bytes"):
        TreeHead.from_dict({"tree_size": 1, "root_hash": "0x12", "timestamp": 1, "signature": ""})
    with pytest.raises(InvalidInput, match="is not hex"):
        parse_hash("0xzz")
