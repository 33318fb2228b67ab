"""RFC 6962 Merkle trees against the Certificate Transparency test vectors, plus properties:
every produced proof verifies, and any altered proof, leaf, index, size or root fails."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from amanat.domain import merkle

# The 8-leaf tree of the CT test vectors (google/certificate-transparency, transparency-dev/merkle).
LEAVES = [bytes.fromhex(h) for h in (
    "", "00", "10", "2021", "3031", "40414243", "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
)]  # fmt: skip
ROOTS = [bytes.fromhex(h) for h in (
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
)]  # fmt: skip
# (leaf index, tree size, path), from the same vectors (their leaf numbers are 1-based).
INCLUSION = [
    (0, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (5, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (1, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]  # fmt: skip
CONSISTENCY = [
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
    (6, 7, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
]  # fmt: skip
HASHES = [merkle.leaf_hash(leaf) for leaf in LEAVES]


def test_hashes_are_domain_separated() -> None:
    assert merkle.leaf_hash(b"") == hashlib.sha256(b"\x00").digest()
    assert merkle.node_hash(b"a", b"b") == hashlib.sha256(b"\x01ab").digest()
    assert merkle.root([]).hex() == (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )


@pytest.mark.parametrize("size", range(1, 9))
def test_roots_of_the_ct_vectors(size: int) -> None:
    assert merkle.root(HASHES[:size]) == ROOTS[size - 1]


@pytest.mark.parametrize(("index", "size", "path"), INCLUSION)
def test_inclusion_proofs_of_the_ct_vectors(index: int, size: int, path: list[str]) -> None:
    proof = merkle.inclusion_proof(index, HASHES[:size])
    assert [p.hex() for p in proof] == path
    assert merkle.verify_inclusion(index, size, HASHES[index], proof, ROOTS[size - 1])
    assert not merkle.verify_inclusion(index + 1, size, HASHES[index], proof, ROOTS[size - 1])
    assert not merkle.verify_inclusion(index, size * 2, HASHES[index], proof, ROOTS[size - 1])
    assert not merkle.verify_inclusion(index, size, HASHES[index], proof[:-1], ROOTS[size - 1])
    assert not merkle.verify_inclusion(
        index, size, HASHES[index], [*proof, ROOTS[size - 1]], ROOTS[size - 1]
    )


@pytest.mark.parametrize(("first", "second", "path"), CONSISTENCY)
def test_consistency_proofs_of_the_ct_vectors(first: int, second: int, path: list[str]) -> None:
    proof = merkle.consistency_proof(first, HASHES[:second])
    assert [p.hex() for p in proof] == path
    r1, r2 = ROOTS[first - 1], ROOTS[second - 1]
    assert merkle.verify_consistency(first, second, r1, r2, proof)
    assert not merkle.verify_consistency(first, second, r2, r1, proof)
    assert not merkle.verify_consistency(first - 1, second, r1, r2, proof)
    assert not merkle.verify_consistency(first, second, r1, r2, proof[:-1])
    assert not merkle.verify_consistency(first, second, r1, r2, [proof[0], *proof])


def test_trivial_consistency_and_bad_arguments() -> None:
    assert merkle.verify_consistency(0, 5, b"x", ROOTS[4], [])
    assert merkle.verify_consistency(3, 3, ROOTS[2], ROOTS[2], [])
    assert not merkle.verify_consistency(3, 3, ROOTS[2], ROOTS[3], [])
    assert not merkle.verify_consistency(4, 3, ROOTS[3], ROOTS[2], [])
    assert not merkle.verify_consistency(1, 2, ROOTS[0], ROOTS[1], [])
    assert not merkle.verify_inclusion(0, 0, HASHES[0], [], merkle.EMPTY_ROOT)
    with pytest.raises(ValueError, match="outside a tree of 8 leaves"):
        merkle.inclusion_proof(8, HASHES)
    with pytest.raises(ValueError, match="outside a tree of 8 leaves"):
        merkle.consistency_proof(9, HASHES)


def test_roots_of_every_prefix_in_one_pass() -> None:
    assert merkle.roots(HASHES, range(9)) == {0: merkle.EMPTY_ROOT} | {
        size: ROOTS[size - 1] for size in range(1, 9)
    }
    with pytest.raises(ValueError, match="between 0 and the 8 leaves"):
        merkle.roots(HASHES, [9])


@settings(max_examples=100, deadline=None)
@given(
    leaves=st.lists(st.binary(max_size=4), max_size=140),
    data=st.data(),
)
def test_one_pass_roots_equal_the_recursive_definition(
    leaves: list[bytes], data: st.DataObject
) -> None:
    hashes = [merkle.leaf_hash(leaf) for leaf in leaves]
    sizes = data.draw(st.lists(st.integers(0, len(hashes)), max_size=6))
    assert merkle.roots(hashes, sizes) == {size: merkle.root(hashes[:size]) for size in sizes}


leaf_lists = st.lists(st.binary(max_size=12), min_size=1, max_size=70)


def _flip(proof: list[bytes], i: int, bit: int) -> list[bytes]:
    altered = list(proof)
    altered[i] = bytes([altered[i][0] ^ (1 << bit)]) + altered[i][1:]
    return altered


@settings(max_examples=150, deadline=None)
@given(leaves=leaf_lists, data=st.data())
def test_every_inclusion_proof_verifies_and_any_alteration_fails(
    leaves: list[bytes], data: st.DataObject
) -> None:
    hashes = [merkle.leaf_hash(leaf) for leaf in leaves]
    n = len(hashes)
    index = data.draw(st.integers(0, n - 1))
    top = merkle.root(hashes)
    proof = merkle.inclusion_proof(index, hashes)
    assert merkle.verify_inclusion(index, n, hashes[index], proof, top)
    # An altered leaf
    other = merkle.leaf_hash(leaves[index] + b"!")
    assert not merkle.verify_inclusion(index, n, other, proof, top)
    # An altered proof element
    if proof:
        i = data.draw(st.integers(0, len(proof) - 1))
        bit = data.draw(st.integers(0, 7))
        assert not merkle.verify_inclusion(index, n, hashes[index], _flip(proof, i, bit), top)
        assert not merkle.verify_inclusion(index, n, hashes[index], proof[:-1], top)
    # Another index or tree size (unless the leaves there are identical)
    wrong = data.draw(st.integers(0, n - 1).filter(lambda j: j != index)) if n > 1 else None
    if wrong is not None and hashes[wrong] != hashes[index]:
        assert not merkle.verify_inclusion(wrong, n, hashes[index], proof, top)
    assert not merkle.verify_inclusion(index, n, hashes[index], [*proof, top], top)


@settings(max_examples=150, deadline=None)
@given(leaves=leaf_lists, data=st.data())
def test_every_consistency_proof_verifies_and_any_alteration_fails(
    leaves: list[bytes], data: st.DataObject
) -> None:
    hashes = [merkle.leaf_hash(leaf) for leaf in leaves]
    n = len(hashes)
    m = data.draw(st.integers(1, n))
    r1, r2 = merkle.root(hashes[:m]), merkle.root(hashes)
    proof = merkle.consistency_proof(m, hashes)
    assert merkle.verify_consistency(m, n, r1, r2, proof)
    if m == n:
        return
    i = data.draw(st.integers(0, len(proof) - 1))
    bit = data.draw(st.integers(0, 7))
    assert not merkle.verify_consistency(m, n, r1, r2, _flip(proof, i, bit))
    assert not merkle.verify_consistency(m, n, r1, r2, proof[:-1])
    # A rewritten history: any changed leaf below m changes the old root
    j = data.draw(st.integers(0, m - 1))
    forged = list(hashes)
    forged[j] = merkle.leaf_hash(leaves[j] + b"!")
    assert not merkle.verify_consistency(m, n, merkle.root(forged[:m]), r2, proof)
    assert not merkle.verify_consistency(m, n, r1, merkle.root(forged), proof)
