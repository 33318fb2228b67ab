"""Fees on a network chain with a base fee: EIP-1559 transactions priced per batch, a stranded
transaction replaced at a bumped fee, and a terminal journal state for every transaction
(mined, replaced, or failed with its reason), never pending for ever."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account import Account

from amanat.chain.client import Chain, TxRequest
from amanat.chain.journal import Journal, JournalTx
from amanat.chain.keys import dev_account
from amanat.chain.rpc import RpcClient
from tests.network.conftest import anvil

GWEI = 10**9


@pytest.fixture
def manual_node() -> Iterator[str]:
    """A node that mines only when the test says so (blocks still have a base fee)."""
    with anvil("--no-mining") as url:
        yield url


def test_transactions_are_eip1559_where_the_chain_has_a_base_fee(node_url: str, tmp_path: Path):
    chain = Chain.network(node_url, tmp_path)
    (receipt,) = chain.transact(
        dev_account(0), [TxRequest(dev_account(9).address, b"", gas=21_000)]
    )
    sent = RpcClient(node_url).call("eth_getTransactionByHash", [receipt.tx_hash])
    assert sent["type"] == "0x2"
    base_fee = int(
        RpcClient(node_url).call("eth_getBlockByNumber", [hex(receipt.block_number), False])[
            "baseFeePerGas"
        ],
        16,
    )
    assert int(sent["maxFeePerGas"], 16) >= base_fee
    assert chain.journal.tx_state(receipt.tx_hash)[0] == "mined"  # type: ignore[index]


def test_a_transaction_stranded_by_a_rising_base_fee_is_replaced_at_a_bumped_fee(
    manual_node: str, tmp_path: Path
):
    rpc = RpcClient(manual_node)
    chain = Chain.network(manual_node, tmp_path)
    (stranded,) = chain.submit(dev_account(0), [TxRequest(dev_account(9).address, b"", gas=21_000)])
    rpc.call("anvil_setNextBlockBaseFeePerGas", [hex(200 * GWEI)])
    rpc.call("evm_mine")
    assert rpc.call("eth_getTransactionReceipt", [stranded]) is None  # its fee cap is too low
    chain.recover()  # what a restart, or a confirm that waited too long, does
    assert chain.journal.tx_state(stranded)[0] == "replaced"  # type: ignore[index]
    (replacement,) = chain.journal.pending()
    assert replacement.nonce == 0 and replacement.hash != stranded
    rpc.call("evm_mine")
    (receipt,) = chain.confirm([stranded])
    assert receipt.status and receipt.tx_hash == replacement.hash
    sent = rpc.call("eth_getTransactionByHash", [replacement.hash])
    assert int(sent["maxFeePerGas"], 16) >= 200 * GWEI
    assert chain.journal.tx_state(replacement.hash)[0] == "mined"  # type: ignore[index]
    assert chain.journal.pending() == []


def test_a_nonce_taken_by_a_transaction_outside_the_journal_fails_the_entry_with_its_reason(
    manual_node: str, tmp_path: Path
):
    rpc = RpcClient(manual_node)
    chain = Chain.network(manual_node, tmp_path)
    owner = dev_account(0)
    (ours,) = chain.submit(owner, [TxRequest(dev_account(9).address, b"", gas=21_000)])
    # The same key, used from a wallet outside Amanat, takes nonce 0 at a higher fee.
    outside = Account.sign_transaction(
        {
            "nonce": 0,
            "to": dev_account(8).address,
            "value": 1,
            "gas": 21_000,
            "maxFeePerGas": 50 * GWEI,
            "maxPriorityFeePerGas": 5 * GWEI,
            "chainId": 2026,
        },
        owner.key,
    )
    rpc.call("eth_sendRawTransaction", ["0x" + outside.raw_transaction.hex()])
    rpc.call("evm_mine")
    chain.recover()
    state, _block, reason = chain.journal.tx_state(ours)  # type: ignore[misc]
    assert state == "rejected"
    assert "nonce was used on chain by a transaction not in the journal" in reason
    assert chain.journal.pending() == []


def test_a_journal_from_before_replacement_accepts_the_replaced_state(tmp_path: Path):
    path = tmp_path / "journal.sqlite"
    old = sqlite3.connect(path)
    old.executescript(
        "CREATE TABLE tx (seq INTEGER PRIMARY KEY AUTOINCREMENT, hash TEXT NOT NULL UNIQUE,"
        " sender TEXT NOT NULL, nonce INTEGER NOT NULL, raw BLOB NOT NULL,"
        " idempotency_key TEXT UNIQUE, acked_at REAL NOT NULL,"
        " state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'mined', 'rejected')),"
        " block INTEGER, reason TEXT);"
        "INSERT INTO tx (hash, sender, nonce, raw, idempotency_key, acked_at)"
        " VALUES ('0xold', '0xabc', 0, x'00', 'key-1', 0);"
    )
    old.close()
    journal = Journal(path)
    journal.replace("0xold", JournalTx("0xnew", "0xabc", 0, b"\x01", "key-1"))
    assert journal.tx_state("0xold")[0] == "replaced"  # type: ignore[index]
    assert journal.existing(["key-1"]) == {"key-1": "0xnew"}
    assert journal.same_nonce("0xold") == ["0xold", "0xnew"]
