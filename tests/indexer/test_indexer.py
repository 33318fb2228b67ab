"""The chain indexer against real chains: what it stores must be what the chain says.

Ground truth is always read from the node: balanceOf (as of a block), the logs
(`amanat.services.tokens.holders`), block timestamps and hashes. Every test runs on SQLite and,
when AMANAT_TEST_DATABASE_URL is set, on PostgreSQL (see conftest.py).
"""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from sqlalchemy import func, select, update

from amanat.errors import AmanatError
from amanat.indexer import queries
from amanat.indexer.indexer import Indexer, _Holdings
from amanat.services import tokens
from amanat.services.platform import Bound
from amanat.store.models import ChainEvent, Holding, IndexedBlock
from tests.indexer.conftest import (
    ChainUnderTest,
    StoreFactory,
    full_index,
    index_content,
    mine,
    raw_transfer,
)

DAY = 86400


def transfer_blocks(under: ChainUnderTest, token: Bound | None = None) -> list[int]:
    """Blocks with asset-token Transfer events (of one token, if given)."""
    topic = "0x" + under.token("PKTB3M").abi.events["Transfer"].topic.hex()
    addresses = {t.address.lower() for t in ([token] if token else under.tokens())}
    return sorted(
        {
            int(log["blockNumber"], 16)
            for log in under.amanat_logs()
            if log["topics"][0] == topic and log["address"].lower() in addresses
        }
    )


def sha256_file(under: ChainUnderTest, name: str) -> str:
    return (
        "0x" + hashlib.sha256((under.data_dir / "pilot-documents" / name).read_bytes()).hexdigest()
    )


# ------------------------------------------------------------------ cap tables


def test_cap_tables_equal_chain_balances(demo: ChainUnderTest, store: Any) -> None:
    assert demo.indexer(store).sync() > 0
    head = demo.head()
    with store.session() as session:
        for token in demo.tokens():
            table = queries.cap_table(session, token.address)
            # Every demo token has holders except the auctioned T-bill, redeemed at maturity.
            assert bool(table) == (token.read("totalSupply") > 0), token.read("symbol")
            assert dict(table) == demo.balances(token)
            assert sum(balance for _, balance in table) == token.read("totalSupply")
            assert len(table) == token.read("holderCount")
            assert table == sorted(table, key=lambda row: (-row[1], row[0]))
            assert queries.cap_table(session, token.address, head) == table


def test_cap_tables_as_of_earlier_blocks(demo: ChainUnderTest, store: Any) -> None:
    """Before and at every block that moved tokens, the cap table as of that block equals both
    the logs-based holder list and balanceOf read at that block."""
    demo.indexer(store).sync()
    probes = sorted({b for t in transfer_blocks(demo) for b in (t - 1, t)})
    assert len(probes) >= 10
    with store.session() as session:
        for token in demo.tokens():
            changed = 0
            previous: dict[str, int] | None = None
            for block in probes:
                got = dict(queries.cap_table(session, token.address, block))
                from_logs = {
                    row["wallet"]: row["balance"]
                    for row in tokens.holders(demo.platform, token, block)
                }
                assert got == from_logs, f"{token.read('symbol')} as of block {block}"
                assert got == demo.balances(token, block), f"{token.read('symbol')} at {block}"
                changed += previous is not None and got != previous
                previous = got
            # the probes really see the cap table move
            assert changed >= min(2, len(transfer_blocks(demo, token)))


def test_cap_table_as_of_a_date(demo: ChainUnderTest, store: Any) -> None:
    """block_at(date) then cap_table: the holdings at the last block at or before that date,
    including a date inside the demo's 91-day clock jump and dates before the deployment."""
    demo.indexer(store).sync()
    first, head = demo.manifest.deployed_block, demo.head()
    stamps = {n: demo.chain.block_timestamp(n) for n in range(first, head + 1)}

    def chain_block_at(moment: int) -> int:
        return max(n for n, t in stamps.items() if t <= moment)

    jump = max(range(first + 1, head + 1), key=lambda n: stamps[n] - stamps[n - 1])
    assert stamps[jump] - stamps[jump - 1] >= 90 * DAY
    moments = [stamps[jump - 1] + 30 * DAY]
    for block in transfer_blocks(demo):
        moments += [m for m in (stamps[block], stamps[block] - 1) if m >= stamps[first]]
    with store.session() as session:
        assert queries.block_at(session, stamps[first] - 1) is None
        inside_jump = queries.block_at(session, moments[0])
        assert inside_jump is not None and inside_jump < jump
        for moment in moments:
            block = queries.block_at(session, moment)
            assert block is not None and block <= chain_block_at(moment)
            for token in demo.tokens():
                assert dict(queries.cap_table(session, token.address, block)) == demo.balances(
                    token, chain_block_at(moment)
                ), f"{token.read('symbol')} as of {moment}"
        assert queries.block_at(session, stamps[head] + 365 * DAY) == head


# ------------------------------------------------------------- positions, history


def test_positions_of_wallets_across_tokens(demo: ChainUnderTest, store: Any) -> None:
    demo.indexer(store).sync()
    names = ["inb", "kla", "fepf", "ghc", "retail-0001"]
    wallets = [demo.address(n) for n in names]
    expected = []
    for token in demo.tokens():
        for wallet in wallets:
            balance = token.read("balanceOf", wallet)
            if balance > 0:
                expected.append(
                    {
                        "token": token.address,
                        "symbol": token.read("symbol"),
                        "asset": token.read("assetId"),
                        "wallet": wallet,
                        "balance": balance,
                    }
                )
    with store.session() as session:
        got = queries.positions(session, wallets)
        assert got == sorted(got, key=lambda p: (p["asset"], p["wallet"]))
        assert sorted(got, key=repr) == sorted(expected, key=repr)
        inb = demo.address("inb")
        assert {p["symbol"] for p in got if p["wallet"] == inb} == {
            "PKTB3M",
            "PKSUK29",
            "ISBG5423",
            "PKWHEAT",  # PKTB3MA is not among them: it was redeemed
        }
        assert queries.positions(session, [demo.address("retail-0001")]) == []
        assert queries.positions(session, []) == []


def test_asset_history_has_registry_and_token_events(demo: ChainUnderTest, store: Any) -> None:
    demo.indexer(store).sync()
    tbill = demo.token("PKTB3M")
    asset = tbill.read("assetId")
    with store.session() as session:
        history = queries.asset_history(session, asset)
    order = [(h["block"], h["log_index"]) for h in history]
    assert order == sorted(order) and len(set(order)) == len(order)
    kinds = {(h["contract"], h["event"]) for h in history}
    assert {
        ("AssetRegistry", "AssetRegistered"),
        ("AssetRegistry", "AuthorisationSet"),
        ("AssetRegistry", "StatusChanged"),
        ("AssetRegistry", "TokenLinked"),
        ("TokenFactory", "TokenCreated"),
        ("AssetToken", "Transfer"),
        ("AssetToken", "Paused"),
        ("AssetToken", "Unpaused"),
        ("AssetToken", "EnforcementAction"),
    } <= kinds
    assert {contract for contract, _ in kinds} == {"AssetRegistry", "TokenFactory", "AssetToken"}
    for entry in history:
        if entry["contract"] != "AssetToken":
            assert entry["args"]["assetId"] == asset
        assert entry["timestamp"] == demo.chain.block_timestamp(entry["block"])
    assert sum(1 for h in history if h["event"] == "AssetRegistered") == 1

    # Its Transfers are exactly the token's Transfer logs on chain.
    event = tbill.abi.events["Transfer"]
    on_chain = []
    for log in demo.chain.get_logs([tbill.address], ["0x" + event.topic.hex()]):
        args = event.decode(
            [bytes.fromhex(t[2:]) for t in log["topics"]], bytes.fromhex(log["data"][2:])
        )
        on_chain.append(
            (int(log["blockNumber"], 16), int(log["logIndex"], 16), log["transactionHash"], args)
        )
    indexed = [
        (h["block"], h["log_index"], h["tx"], h["args"])
        for h in history
        if h["event"] == "Transfer"
    ]
    assert indexed == on_chain

    # The court order: the forced transfer and its evidence hash, in one transaction.
    order_hash = sha256_file(demo, "ihc-order-wp-1234-2026.txt")
    (enforcement,) = [h for h in history if h["event"] == "EnforcementAction"]
    assert enforcement["args"] == {
        "kind": 5,  # ENFORCE_FORCED_TRANSFER
        "wallet": demo.address("ghc"),
        "counterparty": demo.address("inb"),
        "amount": 20_000,
        "evidence": order_hash,
    }
    forced = [h for h in history if h["event"] == "Transfer" and h["tx"] == enforcement["tx"]]
    assert [h["args"] for h in forced] == [
        {"sender": demo.address("ghc"), "receiver": demo.address("inb"), "value": 20_000}
    ]

    # The sukuk's freeze on the FMU notice, with its evidence; nothing of other assets.
    sukuk = demo.token("PKSUK29")
    with store.session() as session:
        sukuk_history = queries.asset_history(session, sukuk.read("assetId"))
    (freeze,) = [h for h in sukuk_history if h["event"] == "EnforcementAction"]
    assert freeze["args"]["kind"] == 1  # ENFORCE_FREEZE_WALLET
    assert freeze["args"]["wallet"] == demo.address("ghc")
    assert freeze["args"]["evidence"] == sha256_file(demo, "fmu-notice-77-2026.txt")
    frozen = [h for h in sukuk_history if h["event"] == "AddressFrozen"]
    assert [h["args"]["isFrozen"] for h in frozen] == [True]
    assert not {h["tx"] for h in history} & {
        h["tx"] for h in sukuk_history if h["contract"] == "AssetToken"
    }


def test_governance_events_are_stored_without_an_asset(demo: ChainUnderTest, store: Any) -> None:
    """Governance events carry no assetId: the indexer stores them with asset_id NULL (so they
    are not part of asset_history), ProposalApproved with the approving official as wallet,
    ProposalCreated with the proposal's evidence, target and call data in args."""
    demo.indexer(store).sync()
    tbill = demo.token("PKTB3M")
    with store.session() as session:
        rows = list(
            session.scalars(
                select(ChainEvent)
                .where(ChainEvent.contract_kind == "Governance")
                .order_by(ChainEvent.block, ChainEvent.log_index)
            )
        )
        history_kinds = {h["contract"] for h in queries.asset_history(session, 1)}
    assert "Governance" not in history_kinds
    assert all(r.asset_id is None for r in rows)
    assert all(r.contract == demo.manifest.address("Governance") for r in rows)
    created = [r for r in rows if r.event == "ProposalCreated"]
    approved = [r for r in rows if r.event == "ProposalApproved"]
    executed = [r for r in rows if r.event == "ProposalExecuted"]
    count = demo.platform.contract("Governance").read("proposalCount")
    assert [r.args["proposalId"] for r in created] == list(range(1, count + 1))
    governance = demo.platform.contract("Governance")
    done = [i for i in range(1, count + 1) if governance.read("getProposal", i)[6]]  # executed
    assert [r.args["proposalId"] for r in executed] == done
    assert len(done) == count - 1  # the demo's retirement of the sukuk's building is refused
    officials = {demo.address(f"official-{i}") for i in (1, 2, 3)}
    assert approved and all(r.wallet == r.args["official"] in officials for r in approved)
    assert all(r.wallet is None and r.args["proposer"] in officials for r in created)

    order_hash = sha256_file(demo, "ihc-order-wp-1234-2026.txt")
    selector = "0x" + tbill.abi.function("forcedTransfer").selector.hex()
    (forced,) = [
        r
        for r in created
        if r.args["target"] == tbill.address and r.args["callData"].startswith(selector)
    ]
    assert forced.args["evidence"] == order_hash
    (done,) = [r for r in executed if r.args["proposalId"] == forced.args["proposalId"]]
    assert done.args["evidence"] == order_hash


def test_every_amanat_log_is_indexed(demo: ChainUnderTest, store: Any) -> None:
    demo.indexer(store).sync()
    sukuk = demo.token("PKSUK29")
    with store.session() as session:
        events = {h["event"] for h in queries.asset_history(session, sukuk.read("assetId"))}
        indexed = session.execute(
            select(ChainEvent.block, ChainEvent.log_index).order_by(
                ChainEvent.block, ChainEvent.log_index
            )
        ).all()
    assert {"RulesUpdated", "HoldingLimitsUpdated", "CountriesListed"} <= events
    expected = [
        (int(log["blockNumber"], 16), int(log["logIndex"], 16)) for log in demo.amanat_logs()
    ]
    assert [tuple(row) for row in indexed] == expected


# ------------------------------------------------- resumable, idempotent, crash-safe


def test_resumable_in_batches_matches_a_single_sync(
    demo: ChainUnderTest, new_store: StoreFactory
) -> None:
    reference = full_index(demo, new_store)
    store = new_store()
    first = demo.indexer(store)
    indexed = 0
    for _ in range(3):
        blocks, events = first.run_once(span=7)
        assert blocks == 7
        indexed += events
    assert index_content(store)["cursor"] == demo.manifest.deployed_block - 1 + 21
    indexed += demo.indexer(store).sync(span=7)  # a new instance carries on from the cursor
    assert index_content(store) == reference
    assert indexed == len(reference["events"])
    assert demo.indexer(store).sync() == 0
    assert index_content(store) == reference


def test_sync_again_indexes_nothing(demo: ChainUnderTest, store: Any) -> None:
    indexer = demo.indexer(store)
    assert indexer.sync() > 0
    before = index_content(store, with_blocks=True)
    assert before["cursor"] == demo.head()
    assert indexer.sync() == 0
    assert demo.indexer(store).sync() == 0
    assert demo.indexer(store).run_once() == (0, 0)
    assert index_content(store, with_blocks=True) == before


@pytest.mark.parametrize("crash_at", ["holdings-flush", "cursor-write"])
def test_a_crash_mid_batch_leaves_the_index_unchanged(
    demo: ChainUnderTest,
    new_store: StoreFactory,
    monkeypatch: pytest.MonkeyPatch,
    crash_at: str,
) -> None:
    """A first batch is indexed (up to the block before the first mint: the tokens exist, nobody
    holds any). The next batch fails after its events (and, for cursor-write, its holdings) were
    written in the transaction: afterwards the database is exactly as after the first batch.
    A normal sync then gives the same index as an uninterrupted one. (The resumed batch only opens
    holdings, so it does not depend on the bug of test_resumable_in_batches_matches_a_single_sync.)"""
    reference = full_index(demo, new_store)
    store = new_store()
    first_mint = transfer_blocks(demo)[0]
    demo.indexer(store).run_once(span=first_mint - demo.manifest.deployed_block)
    before = index_content(store, with_blocks=True)
    assert before["cursor"] == first_mint - 1
    assert len(before["tokens"]) == 3 and before["holdings"] == []

    seen: list[tuple[int, int]] = []

    def count(session: Any) -> tuple[int, int]:
        return (
            session.scalar(select(func.count()).select_from(ChainEvent)),
            session.scalar(select(func.count()).select_from(Holding)),
        )

    def crash_in_flush(self: _Holdings) -> None:
        seen.append(count(self.session))
        raise RuntimeError("simulated crash")

    original_flush = _Holdings.flush

    def crash_in_cursor(self: Indexer, session: Any, block: int) -> None:
        seen.append(count(session))
        raise RuntimeError("simulated crash")

    if crash_at == "holdings-flush":
        monkeypatch.setattr(_Holdings, "flush", crash_in_flush)
    else:
        monkeypatch.setattr(Indexer, "_set_cursor", crash_in_cursor)
    with pytest.raises(RuntimeError, match="simulated crash"):
        demo.indexer(store).sync()
    (inside,) = seen
    assert inside[0] > len(before["events"])  # the batch's events were written, then undone
    if crash_at == "cursor-write":
        assert inside[1] > 0
    assert index_content(store, with_blocks=True) == before

    monkeypatch.undo()
    assert _Holdings.flush is original_flush
    assert demo.indexer(store).sync() == len(reference["events"]) - len(before["events"])
    assert index_content(store) == reference


# ---------------------------------------------------------------------- confirmations


@pytest.mark.parametrize("depth", ["last-event-block", "deeper", "whole-chain"])
def test_confirmations_leave_the_last_blocks_unindexed(
    demo: ChainUnderTest, new_store: StoreFactory, depth: str
) -> None:
    reference = full_index(demo, new_store)
    store = new_store()
    head = demo.head()
    last_event_block = max(e[0] for e in reference["events"])
    confirmations = {
        "last-event-block": head - last_event_block + 1,
        "deeper": head - transfer_blocks(demo)[-4] + 1,
        "whole-chain": head - demo.manifest.deployed_block + 1,
    }[depth]
    indexed = demo.indexer(store, confirmations=confirmations).sync()
    content = index_content(store, with_blocks=True)
    limit = head - confirmations
    expected = [e for e in reference["events"] if e[0] <= limit]
    assert len(expected) < len(reference["events"])  # the unconfirmed blocks do carry events
    assert content["events"] == expected
    assert indexed == len(expected)
    if depth == "whole-chain":
        assert content["cursor"] is None and content["blocks"] == {} and indexed == 0
        return
    assert content["cursor"] == limit
    assert max(content["blocks"]) == limit
    with store.session() as session:
        for token in demo.tokens():
            assert dict(queries.cap_table(session, token.address)) == demo.balances(token, limit)


# ------------------------------------------------------------------ reorganisations


def test_reorganisation_to_a_branch_without_the_abandoned_transfers(
    small_chain: ChainUnderTest, new_store: StoreFactory
) -> None:
    """A real reorganisation on anvil: evm_snapshot, two blocks of transfers (sent raw, outside
    Amanat's journal), index, evm_revert, then three empty blocks with other timestamps, so the
    chain is longer and every block after the fork has another hash. Re-indexing must drop the
    abandoned events and holdings and give what a from-scratch sync of the new chain gives.

    The abandoned blocks are indexed in the same batch as the setup and the new branch moves no
    tokens, so this test does not run into the bug of test_reorganisation_with_other_transfers."""
    chain, token = small_chain, small_chain.token("SMALL")
    rpc = chain.chain.rpc
    snapshot = rpc.call("evm_snapshot")
    fork = chain.head()
    raw_transfer(chain, "holder-a", token, "holder-c", 100)
    mine(chain)
    raw_transfer(chain, "holder-b", token, "holder-d", 50)
    raw_transfer(chain, "holder-c", token, "holder-d", 10)
    mine(chain)
    store = new_store()
    chain.indexer(store).sync()
    with store.session() as session:
        assert dict(queries.cap_table(session, token.address)) == {
            chain.address("holder-a"): 900,
            chain.address("holder-b"): 450,
            chain.address("holder-c"): 90,
            chain.address("holder-d"): 60,
        }
    assert rpc.call("evm_revert", [snapshot]) is True
    assert chain.head() == fork
    for _ in range(3):
        mine(chain, gap=7)

    assert chain.indexer(store).sync() == 0
    after = index_content(store, with_blocks=True)
    assert all(e[0] <= fork for e in after["events"])
    assert after["cursor"] == chain.head()
    for number, (block_hash, _) in after["blocks"].items():
        assert rpc.call("eth_getBlockByNumber", [hex(number), False])["hash"] == block_hash
    with store.session() as session:
        table = dict(queries.cap_table(session, token.address))
        assert (
            table
            == chain.balances(token)
            == {
                chain.address("holder-a"): 1_000,
                chain.address("holder-b"): 500,
            }
        )
        assert dict(queries.cap_table(session, token.address, fork)) == table
    content = index_content(store)
    assert content == full_index(chain, new_store)


def test_reorganisation_with_other_transfers(
    small_chain: ChainUnderTest, new_store: StoreFactory
) -> None:
    """The general case on a real anvil reorganisation: the abandoned blocks were indexed in a
    later batch than the holdings they change, and the new branch moves the same holders' tokens
    differently."""
    chain, token = small_chain, small_chain.token("SMALL")
    rpc = chain.chain.rpc
    store = new_store()
    chain.indexer(store).sync()
    snapshot = rpc.call("evm_snapshot")
    fork = chain.head()
    abandoned = [raw_transfer(chain, "holder-a", token, "holder-c", 100)]
    mine(chain)
    abandoned.append(raw_transfer(chain, "holder-b", token, "holder-d", 50))
    mine(chain)
    chain.indexer(store).sync()
    assert rpc.call("evm_revert", [snapshot]) is True
    raw_transfer(chain, "holder-a", token, "holder-d", 300)
    mine(chain, gap=5)
    raw_transfer(chain, "holder-d", token, "holder-b", 100)
    mine(chain, gap=5)
    mine(chain, gap=5)

    chain.indexer(store).sync()
    after = index_content(store)
    assert not {e[2] for e in after["events"]} & set(abandoned)
    with store.session() as session:
        assert (
            dict(queries.cap_table(session, token.address))
            == chain.balances(token)
            == {
                chain.address("holder-a"): 700,
                chain.address("holder-b"): 600,
                chain.address("holder-d"): 200,
            }
        )
        assert dict(queries.cap_table(session, token.address, fork)) == chain.balances(token, fork)
    assert after == full_index(chain, new_store)


@pytest.mark.parametrize(
    "diverge_after",
    [
        "before-the-last-token",
        "mid-transfers",
    ],
)
def test_reorganisation_detected_from_stored_hashes(
    demo: ChainUnderTest, new_store: StoreFactory, diverge_after: str
) -> None:
    """Simulated reorganisation: the stored hashes of the indexed blocks after block X are
    replaced, as if the chain had had other blocks there when they were indexed. The indexer must
    roll back to the last block whose hash still agrees (<= X) and re-read the rest, ending with
    the same index as a from-scratch sync. Robust (no node manipulation) and deterministic."""
    reference = full_index(demo, new_store)
    store = new_store()
    demo.indexer(store).sync()
    token_blocks = sorted({t[4] for t in reference["tokens"]})
    diverge = {
        "before-the-last-token": token_blocks[-1] - 1,
        "mid-transfers": transfer_blocks(demo)[len(transfer_blocks(demo)) // 2],
    }[diverge_after]
    with store.session() as session, session.begin():
        session.execute(
            update(IndexedBlock).where(IndexedBlock.number > diverge).values(hash="0x" + "ab" * 32)
        )
    agreed = max(n for n in reference["event_blocks"] if n <= diverge)
    reread = sum(1 for e in reference["events"] if e[0] > agreed)
    assert 0 < reread < len(reference["events"])
    assert demo.indexer(store).sync() == reread
    assert index_content(store) == reference


def test_reorganisation_deeper_than_the_kept_hashes_is_refused(
    demo: ChainUnderTest, store: Any
) -> None:
    indexer = demo.indexer(store)
    indexer.sync()
    with store.session() as session, session.begin():
        session.execute(update(IndexedBlock).values(hash="0x" + "cd" * 32))
    before = index_content(store, with_blocks=True)
    with pytest.raises(AmanatError, match="reindex from scratch"):
        indexer.run_once()
    assert index_content(store, with_blocks=True) == before
