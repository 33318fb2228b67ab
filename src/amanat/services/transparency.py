"""The public transparency log: sign and anchor tree heads, serve entries and proofs, export.

- Entries are appended by `amanat.store.log.append` in the writer's own transaction.
- A tree head (size, RFC 6962 root, timestamp) is signed with the platform's Ed25519 key and its
  SHA-256 anchored on chain by the TransparencyAnchor contract under the publisher key.
- The signing key is read from $AMANAT_LOG_KEY_FILE, else <data dir>/transparency-key.pem,
  created on first use on the embedded chain. Its public half is published with every head.
"""

from __future__ import annotations

import base64
import contextlib
import os
from datetime import UTC
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from amanat.domain import merkle
from amanat.domain.transparency import TreeHead
from amanat.errors import AmanatError, InvalidInput, NotFound, RuleViolation
from amanat.services.platform import Platform
from amanat.store.crypto import write_once
from amanat.store.log import size
from amanat.store.models import LogEntry
from amanat.store.models import TreeHead as TreeHeadRow

KEY_FILE_ENV = "AMANAT_LOG_KEY_FILE"
KEY_FILE = "transparency-key.pem"
MAX_PAGE = 1000
ANCHOR = "TransparencyAnchor"


# ------------------------------------------------------------------ reading


def entries(session: Session, start: int, limit: int) -> list[dict[str, Any]]:
    """A page of entries from `start`: the leaf as its exact UTF-8 text, plus its hash."""
    if start < 0:
        raise InvalidInput(f"start {start} must be >= 0")
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit {limit} must be between 1 and {MAX_PAGE}")
    rows = session.scalars(
        select(LogEntry).where(LogEntry.index >= start).order_by(LogEntry.index).limit(limit)
    )
    return [entry_dict(row) for row in rows]


def entry_dict(row: LogEntry) -> dict[str, Any]:
    return {
        "index": row.index,
        "kind": row.kind,
        "source": row.source,
        "leaf": row.leaf.decode("utf-8"),
        "leaf_hash": "0x" + row.leaf_hash.hex(),
        "created_at": row.created_at.astimezone(UTC).isoformat()
        if row.created_at.tzinfo
        else row.created_at.replace(tzinfo=UTC).isoformat(),
    }


def _leaf_hashes(session: Session, tree_size: int) -> list[bytes]:
    current = size(session)
    if not 0 <= tree_size <= current:
        raise InvalidInput(f"tree size {tree_size} is outside the log (size {current})")
    return list(
        session.scalars(
            select(LogEntry.leaf_hash).where(LogEntry.index < tree_size).order_by(LogEntry.index)
        )
    )


def root_at(session: Session, tree_size: int) -> bytes:
    return merkle.root(_leaf_hashes(session, tree_size))


def inclusion_proof(session: Session, index: int, tree_size: int) -> dict[str, Any]:
    if not 0 <= index < tree_size:
        raise InvalidInput(f"entry index {index} must be below the tree size {tree_size}")
    hashes = _leaf_hashes(session, tree_size)
    return {
        "index": index,
        "tree_size": tree_size,
        "leaf_hash": "0x" + hashes[index].hex(),
        "root_hash": "0x" + merkle.root(hashes).hex(),
        "proof": ["0x" + p.hex() for p in merkle.inclusion_proof(index, hashes)],
    }


def consistency_proof(session: Session, first: int, second: int) -> dict[str, Any]:
    if not 0 <= first <= second:
        raise InvalidInput(f"first size {first} must be between 0 and the second size {second}")
    hashes = _leaf_hashes(session, second)
    return {
        "first": first,
        "second": second,
        "first_root": "0x" + merkle.root(hashes[:first]).hex(),
        "second_root": "0x" + merkle.root(hashes).hex(),
        "proof": ["0x" + p.hex() for p in merkle.consistency_proof(first, hashes)],
    }


# ------------------------------------------------------------------ heads


def _head(row: TreeHeadRow) -> dict[str, Any]:
    head = TreeHead(
        row.tree_size,
        bytes.fromhex(row.root_hash[2:]),
        row.timestamp,
        base64.b64decode(row.signature),
    )
    return {**head.as_dict(), "anchor_tx": row.anchor_tx, "anchor_block": row.anchor_block}


def latest_head(session: Session) -> dict[str, Any] | None:
    row = session.scalars(
        select(TreeHeadRow).order_by(TreeHeadRow.tree_size.desc()).limit(1)
    ).first()
    return _head(row) if row else None


def head_at(session: Session, tree_size: int) -> dict[str, Any]:
    row = session.get(TreeHeadRow, tree_size)
    if row is None:
        raise NotFound(f"no tree head was published at size {tree_size}")
    return _head(row)


def heads(session: Session) -> list[dict[str, Any]]:
    return [_head(r) for r in session.scalars(select(TreeHeadRow).order_by(TreeHeadRow.tree_size))]


def publish(platform: Platform) -> dict[str, Any]:
    """Sign a head over the whole log (unless the latest head already covers it) and anchor
    every head not yet anchored. Returns the latest head."""
    key = signing_key(platform)
    # Another publisher (serve, or the CLI) may sign the same size first: then anchor theirs.
    with contextlib.suppress(IntegrityError):
        _sign_head(platform, key)
    _anchor_pending(platform)
    with platform.store.session() as session:
        head = latest_head(session)
    assert head is not None
    return head


def _sign_head(platform: Platform, key: Ed25519PrivateKey) -> None:
    with platform.store.session() as session, session.begin():
        current = size(session)
        latest = latest_head(session)
        if current == 0:
            raise InvalidInput("the transparency log is empty: nothing to publish yet")
        if latest is None or latest["tree_size"] < current:
            unsigned = TreeHead(
                current, root_at(session, current), int(platform.clock.wall_time().timestamp())
            )
            signed = TreeHead(
                unsigned.tree_size,
                unsigned.root_hash,
                unsigned.timestamp,
                key.sign(unsigned.encoding()),
            )
            session.add(
                TreeHeadRow(
                    tree_size=signed.tree_size,
                    root_hash="0x" + signed.root_hash.hex(),
                    timestamp=signed.timestamp,
                    signature=base64.b64encode(signed.signature).decode(),
                )
            )


def _anchor_pending(platform: Platform) -> None:
    """Anchor every head not yet anchored, in order, within the publisher's growth allowance
    (heads beyond it wait for a later publish). Heads whose anchors governance voided (every
    anchor above a good head goes at once, `voidAnchorsAbove`) are anchored again."""
    if ANCHOR not in platform.manifest.contracts:
        return  # a deployment from before the anchor contract: heads stay unanchored
    anchor = platform.contract(ANCHOR)
    on_chain = anchor.read("latestTreeSize")
    with platform.store.session() as session, session.begin():
        voided = session.scalars(
            select(TreeHeadRow).where(
                TreeHeadRow.anchor_tx.is_not(None), TreeHeadRow.tree_size > on_chain
            )
        )
        for row in voided:
            row.anchor_tx = None
            row.anchor_block = None
    with platform.store.session() as session:
        pending = list(
            session.scalars(
                select(TreeHeadRow)
                .where(TreeHeadRow.anchor_tx.is_(None))
                .order_by(TreeHeadRow.tree_size)
            )
        )
    limit = anchor.read("maxAnchorableSize")
    # A head anchored again after a voiding is a new transaction, not the journalled one.
    voidings = anchor.read("voidingCount")
    key_name = platform.settings.publisher_key
    signer = platform.signer(key_name)
    if pending and not anchor.read("isPublisher", signer.address):
        raise RuleViolation(
            "not-a-publisher",
            f"the publisher key {key_name!r} ({signer.address}) is not an appointed publisher of "
            "the TransparencyAnchor: name the key governance appointed in amanat.toml "
            "([transparency] publisher) or AMANAT_PUBLISHER_KEY",
            key=key_name,
        )
    for row in pending:
        key = f"transparency-anchor-{platform.manifest.address(ANCHOR)}-{row.tree_size}" + (
            f"-after-voiding-{voidings}" if voidings else ""
        )
        journaled = platform.chain.seen(key)
        if row.tree_size <= on_chain and not journaled:
            continue  # superseded by a larger anchor (sizes only grow on chain)
        # An anchor this publisher sent whose store step was lost is recorded from the journal
        # (its key returns the first transaction's receipt; nothing is sent again).
        if row.tree_size > limit and not journaled:
            break  # beyond the allowance: it refills, a later publish anchors the rest
        head = TreeHead(row.tree_size, bytes.fromhex(row.root_hash[2:]), row.timestamp)
        (receipt,) = platform.chain.transact(
            signer,
            [
                anchor.tx(
                    "anchor",
                    row.tree_size,
                    head.root_hash,
                    head.head_hash,
                    key=key,
                    description=f"anchor tree head {row.tree_size}",
                )
            ],
            check=not journaled,
        )
        if not receipt.status:
            # the journaled anchor reverted (another publisher anchored a larger size first):
            # the head stays unanchored, superseded, and the later heads are anchored
            continue
        with platform.store.session() as session, session.begin():
            stored = session.get(TreeHeadRow, row.tree_size)
            assert stored is not None
            stored.anchor_tx = receipt.tx_hash
            stored.anchor_block = receipt.block_number
        on_chain = max(on_chain, row.tree_size)


# ------------------------------------------------------------------ keys


def _key_path(platform: Platform) -> Path:
    configured = os.environ.get(KEY_FILE_ENV)
    return Path(configured) if configured else platform.settings.data_dir / KEY_FILE


def signing_key(platform: Platform) -> Ed25519PrivateKey:
    """The platform's tree-head key; created on first use on the embedded chain only."""
    path = _key_path(platform)
    if path.exists():
        pem = path.read_bytes()
    elif not platform.settings.embedded:
        raise AmanatError(
            f"no transparency signing key: set {KEY_FILE_ENV} or provide {path} (Ed25519, PEM)"
        )
    else:  # another process may create it at the same moment: one key wins, whole
        pem = write_once(
            path,
            Ed25519PrivateKey.generate().private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
        )
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise AmanatError(f"{path} does not hold an Ed25519 private key")
    return key


def public_key(platform: Platform) -> bytes:
    """The raw 32-byte Ed25519 public key that verifies every tree head."""
    return (
        signing_key(platform)
        .public_key()
        .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )


# ------------------------------------------------------------------ export


def bundle(platform: Platform) -> dict[str, Any]:
    """Everything an independent verifier needs besides the chain: entries, heads, the public
    key and the deployment manifest (addresses)."""
    with platform.store.session() as session:
        rows = session.scalars(select(LogEntry).order_by(LogEntry.index))
        exported = {
            "format": "amanat-transparency-bundle/1",
            "public_key": public_key_b64(platform),
            "manifest": manifest_dict(platform),
            "heads": heads(session),
            "entries": [entry_dict(row) for row in rows],
        }
    return exported


def manifest_dict(platform: Platform) -> dict[str, Any]:
    manifest = platform.manifest
    return {
        "version": manifest.version,
        "chain_id": manifest.chain_id,
        "deployed_block": manifest.deployed_block,
        "deployer": manifest.deployer,
        "contracts": {
            name: {
                "address": c.address,
                "code_hash": c.code_hash,
                "source_sha256": c.source_sha256,
            }
            for name, c in manifest.contracts.items()
        },
    }


def public_key_b64(platform: Platform) -> str:
    return base64.b64encode(public_key(platform)).decode()
