"""Reconciliation: the chain against the indexer's database, the asset registry and the cash token.

At the indexer's cursor block (what the index claims to know), for every token:
- the index knows the token the factory created, linked to the same asset;
- the registry links the asset to that token and its status is tokenized or later;
- each holder's balance in the index equals balanceOf on chain, and the index's total equals
  totalSupply;
and, when the deployment has a cash token, its totalSupply equals the sum of its holders'
balances (holders found from Transfer events). Every run is stored with its differences.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

from eth_abi import decode, encode
from eth_utils import function_signature_to_4byte_selector, keccak
from sqlalchemy import select

from amanat.chain.abi import checksum
from amanat.domain.assets import AssetStatus
from amanat.indexer import queries
from amanat.indexer.indexer import CURSOR
from amanat.services.platform import Platform, read_many
from amanat.store.models import IndexerState, Reconciliation, Token

CASH_TOKEN = "CashToken"
TRANSFER_TOPIC = "0x" + keccak(text="Transfer(address,address,uint256)").hex()
ZERO = "0x0000000000000000000000000000000000000000"


class _Differences:
    def __init__(self) -> None:
        self.items: list[dict[str, str]] = []
        self.checked = 0

    def check(self, ok: bool, check: str, subject: str, detail: str) -> None:
        self.checked += 1
        if not ok:
            self.items.append({"check": check, "subject": subject, "detail": detail})


def run(platform: Platform) -> dict[str, Any]:
    """Reconcile now, store the run and return it."""
    with platform.store.session() as session:
        state = session.get(IndexerState, CURSOR)
        block = state.block if state else platform.manifest.deployed_block - 1
        indexed = {
            t.address: t.asset_id for t in session.scalars(select(Token).order_by(Token.asset_id))
        }
        index_tables = {
            address: dict(queries.cap_table(session, address, block)) for address in indexed
        }
    found = _Differences()
    if block >= platform.manifest.deployed_block:
        _tokens(platform, block, indexed, index_tables, found)
    _cash_token(platform, block, found)
    at = platform.clock.wall_time()
    with platform.store.session() as session, session.begin():
        row = Reconciliation(at=at, block=block, checked=found.checked, differences=found.items)
        session.add(row)
        session.flush()
        result = _out(row)
    return result


def recent(platform: Platform, limit: int) -> list[dict[str, Any]]:
    with platform.store.session() as session:
        rows = session.scalars(
            select(Reconciliation).order_by(Reconciliation.id.desc()).limit(limit)
        )
        return [_out(r) for r in rows]


def _out(row: Reconciliation) -> dict[str, Any]:
    at = row.at if row.at.tzinfo else row.at.replace(tzinfo=UTC)
    return {
        "id": row.id,
        "at": at,
        "block": row.block,
        "checked": row.checked,
        "ok": not row.differences,
        "differences": row.differences,
    }


def _tokens(
    platform: Platform,
    block: int,
    indexed: dict[str, int],
    index_tables: dict[str, dict[str, int]],
    found: _Differences,
) -> None:
    factory = platform.contract("TokenFactory")
    registry = platform.contract("AssetRegistry")
    count = registry.read("assetCount", block=block)
    for asset_id in range(1, count + 1):
        token = factory.read("tokenOf", asset_id, block=block)
        asset = registry.read("getAsset", asset_id, block=block)
        status, linked = AssetStatus(asset[1]), asset[5]
        subject = f"asset {asset_id}"
        if token == ZERO:
            found.check(
                linked == ZERO,
                "registry-link",
                subject,
                f"the registry links token {linked} but the factory created none",
            )
            found.check(
                token not in indexed.values(),
                "index-token",
                subject,
                "the index has a token for an asset the factory did not tokenize",
            )
            continue
        found.check(
            linked == token,
            "registry-link",
            subject,
            f"the factory created token {token} but the registry links {linked}",
        )
        found.check(
            status >= AssetStatus.TOKENIZED,
            "registry-status",
            subject,
            f"token {token} exists but the asset's status is {status.label}",
        )
        if indexed.get(token) != asset_id:
            found.check(
                False, "index-token", subject, f"token {token} is not in the index for this asset"
            )
            continue
        bound = platform.token(token)
        table = index_tables[token]
        chain_values = _reads_at(
            platform,
            block,
            [(bound, "totalSupply", ()), *((bound, "balanceOf", (h,)) for h in table)],
        )
        supply, balances = chain_values[0], chain_values[1:]
        symbol = bound.read("symbol", block=block)
        for (holder, balance), on_chain in zip(table.items(), balances, strict=True):
            found.check(
                balance == on_chain,
                "holder-balance",
                f"{symbol} {holder}",
                f"the index has {balance:,}, the chain {on_chain:,}",
            )
        total = sum(table.values())
        found.check(
            total == supply,
            "total-supply",
            symbol,
            f"the index's holdings add up to {total:,}, totalSupply on chain is {supply:,}",
        )


def _reads_at(
    platform: Platform, block: int, calls: list[tuple[Any, str, tuple[Any, ...]]]
) -> list[Any]:
    if block == platform.chain.block_number():
        return read_many(calls)
    return [bound.read(fn, *args, block=block) for bound, fn, args in calls]


def _cash_token(platform: Platform, block: int, found: _Differences) -> None:
    """The cash token (when deployed): supply = the sum of balances, through plain ERC-20 calls."""
    if CASH_TOKEN not in platform.manifest.contracts or block < platform.manifest.deployed_block:
        return
    address = platform.manifest.address(CASH_TOKEN)
    logs = platform.chain.get_logs(
        [address], [TRANSFER_TOPIC], from_block=platform.manifest.deployed_block, to_block=block
    )
    holders = sorted(
        {
            checksum("0x" + topic[-40:])
            for log_ in logs
            for topic in log_["topics"][1:3]
            if int(topic, 16) != 0
        }
    )
    supply = _erc20(platform, address, "totalSupply()", [], [], block)
    total = sum(
        _erc20(platform, address, "balanceOf(address)", ["address"], [h], block) for h in holders
    )
    found.check(
        total == supply,
        "cash-supply",
        CASH_TOKEN,
        f"the {len(holders)} holders' balances add up to {total:,}, totalSupply is {supply:,}",
    )


def _erc20(
    platform: Platform, address: str, signature: str, types: list[str], args: list[Any], block: int
) -> int:
    data = function_signature_to_4byte_selector(signature) + encode(types, args)
    return int(decode(["uint256"], platform.chain.call(address, data, block=block))[0])
