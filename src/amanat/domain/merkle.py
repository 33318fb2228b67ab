"""RFC 6962 / RFC 9162 Merkle tree hashing: tree roots, inclusion and consistency proofs.

Leaves are hashed SHA-256(0x00 || data) and interior nodes SHA-256(0x01 || left || right); a
tree of n > 1 leaves splits at k, the largest power of two smaller than n (RFC 6962 §2.1), so
Certificate Transparency tooling checks these roots and proofs as it checks a CT log's.
Proofs are produced from the leaf hashes (PATH and PROOF of RFC 6962 §2.1.1 / §2.1.2) and
verified with the algorithms of RFC 9162 §2.1.3.2 and §2.1.4.2, which need only the proof.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def root(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH(D[n]) from the leaves' hashes; the empty tree's root is SHA-256 of nothing."""
    n = len(leaf_hashes)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return leaf_hashes[0]
    k = _split(n)
    return node_hash(root(leaf_hashes[:k]), root(leaf_hashes[k:]))


def roots(leaf_hashes: Sequence[bytes], sizes: Sequence[int]) -> dict[int, bytes]:
    """MTH of the first `size` leaves for each size, in one pass over the leaves.

    The leaves seen so far form complete subtrees whose sizes are the binary digits of their
    count (the frontier); the tree's root folds them from the right, smallest first, which is
    RFC 6962's split at the largest power of two applied again and again."""
    wanted = sorted(set(sizes))
    if wanted and not 0 <= wanted[0] <= wanted[-1] <= len(leaf_hashes):
        raise ValueError(f"sizes must be between 0 and the {len(leaf_hashes)} leaves")
    found: dict[int, bytes] = {}
    frontier: list[tuple[int, bytes]] = []  # (subtree size, hash), largest first
    pending = iter(wanted)
    target = next(pending, None)
    count = 0
    while target is not None:
        if count == target:
            if frontier:
                top = frontier[-1][1]
                for _size, peak in reversed(frontier[:-1]):
                    top = node_hash(peak, top)
            else:
                top = EMPTY_ROOT
            found[target] = top
            target = next(pending, None)
            continue
        size, current = 1, leaf_hashes[count]
        while frontier and frontier[-1][0] == size:
            current = node_hash(frontier.pop()[1], current)
            size *= 2
        frontier.append((size, current))
        count += 1
    return found


def inclusion_proof(index: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """PATH(index, D[n]): the audit path of leaf `index` in the tree of these leaves."""
    n = len(leaf_hashes)
    if not 0 <= index < n:
        raise ValueError(f"leaf index {index} is outside a tree of {n} leaves")
    if n == 1:
        return []
    k = _split(n)
    if index < k:
        return [*inclusion_proof(index, leaf_hashes[:k]), root(leaf_hashes[k:])]
    return [*inclusion_proof(index - k, leaf_hashes[k:]), root(leaf_hashes[:k])]


def consistency_proof(first: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """PROOF(first, D[n]): proves the tree of the first `first` leaves is a prefix of this one."""
    n = len(leaf_hashes)
    if not 0 <= first <= n:
        raise ValueError(f"size {first} is outside a tree of {n} leaves")
    if first in (0, n):
        return []
    return _subproof(first, leaf_hashes, True)


def _subproof(m: int, leaves: Sequence[bytes], complete: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if complete else [root(leaves)]
    k = _split(n)
    if m <= k:
        return [*_subproof(m, leaves[:k], complete), root(leaves[k:])]
    return [*_subproof(m - k, leaves[k:], False), root(leaves[:k])]


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], expected_root: bytes
) -> bool:
    """RFC 9162 §2.1.3.2: does `proof` place the leaf hash `leaf` at `index` under the root?"""
    if not 0 <= index < size or any(len(p) != HASH_SIZE for p in proof):
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == expected_root


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 §2.1.4.2: is the tree (first, first_root) a prefix of (second, second_root)?"""
    if not 0 <= first <= second or any(len(p) != HASH_SIZE for p in proof):
        return False
    if first == second:
        return not proof and first_root == second_root
    if first == 0:
        return not proof
    if not proof:
        return False
    path = list(proof)
    if first & (first - 1) == 0:  # an exact power of two: the first tree is a complete subtree
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == first_root and sr == second_root and sn == 0
