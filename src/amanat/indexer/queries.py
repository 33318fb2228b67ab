"""Read models over the index: cap tables as of a block or date, positions, asset history."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from amanat.chain.abi import checksum
from amanat.store.models import ChainEvent, Holding, IndexedBlock, Token


def block_at(session: Session, timestamp: int) -> int | None:
    """The last indexed block at or before `timestamp` (holdings only change in such blocks)."""
    return session.scalar(
        select(func.max(IndexedBlock.number)).where(IndexedBlock.timestamp <= timestamp)
    )


def proposal_creation_blocks(
    session: Session, governance: str, proposal_ids: list[int]
) -> dict[int, int]:
    """The blocks in which the index saw these proposals' `ProposalCreated` (those it has
    indexed): a proposal's call is then read from that block alone, not the whole chain."""
    rows = session.execute(
        select(ChainEvent.block, ChainEvent.args).where(
            ChainEvent.contract == checksum(governance),
            ChainEvent.event == "ProposalCreated",
            ChainEvent.args["proposalId"].as_integer().in_(proposal_ids),
        )
    )
    return {row.args["proposalId"]: row.block for row in rows}


def cap_table(session: Session, token: str, block: int | None = None) -> list[tuple[str, int]]:
    """(holder, balance) with a positive balance as of the end of `block` (default: latest)."""
    query = select(Holding.holder, Holding.balance).where(
        Holding.token == token, Holding.balance > 0
    )
    if block is None:
        query = query.where(Holding.to_block.is_(None))
    else:
        query = query.where(
            Holding.from_block <= block, or_(Holding.to_block.is_(None), Holding.to_block > block)
        )
    return [
        (row.holder, row.balance)
        for row in session.execute(query.order_by(Holding.balance.desc(), Holding.holder))
    ]


def cap_table_at_date(session: Session, token: str, timestamp: int) -> list[tuple[str, int]]:
    """The cap table at a moment: empty before anything was indexed."""
    block = block_at(session, timestamp)
    return [] if block is None else cap_table(session, token, block)


def positions(session: Session, wallets: list[str]) -> list[dict[str, Any]]:
    """Current positions of an institution's wallets across tokens."""
    wallets = [checksum(w) for w in wallets]
    rows = session.execute(
        select(Holding.token, Token.symbol, Token.asset_id, Holding.holder, Holding.balance)
        .join(Token, Token.address == Holding.token)
        .where(Holding.holder.in_(wallets), Holding.to_block.is_(None), Holding.balance > 0)
        .order_by(Token.asset_id, Holding.holder)
    )
    return [
        {
            "token": r.token,
            "symbol": r.symbol,
            "asset": r.asset_id,
            "wallet": r.holder,
            "balance": r.balance,
        }
        for r in rows
    ]


def asset_history(session: Session, asset_id: int) -> list[dict[str, Any]]:
    """Every event about an asset: registry entries and its token's events, in chain order."""
    rows = session.scalars(
        select(ChainEvent)
        .where(ChainEvent.asset_id == asset_id)
        .order_by(ChainEvent.block, ChainEvent.log_index)
    )
    return [
        {
            "block": e.block,
            "log_index": e.log_index,
            "tx": e.tx_hash,
            "timestamp": e.timestamp,
            "contract": e.contract_kind,
            "event": e.event,
            "args": e.args,
        }
        for e in rows
    ]
