"""The history archive at its edges: a log query across the archive/node boundary while blocks
are mined, a block journaled but never archived (a worker died between the two), a log
query without fromBlock (JSON-RPC: "latest"), and an archive edited on disk (refused, never
served: each archived block must match the header the node keeps)."""

from __future__ import annotations

import json
import sqlite3
import time
import zlib
from collections.abc import Callable
from typing import Any

import pytest
from eth_account import Account
from eth_utils import to_checksum_address

from amanat.chain import archive as archive_module
from amanat.chain.archive import Archive
from amanat.chain.client import Chain, TxRequest
from amanat.chain.journal import JournalBlock
from amanat.chain.keys import dev_account
from amanat.chain.node import NODE_KEEPS_BLOCKS
from amanat.chain.rpc import RpcClient
from amanat.errors import AmanatError

# init code of a contract whose code logs its call data (LOG0) and stops
EMITTER_RUNTIME = bytes.fromhex("365f5f37365fa000")
EMITTER_INIT = bytes.fromhex("67") + EMITTER_RUNTIME + bytes.fromhex("5f5260086018f3")


def _emitter(chain: Chain) -> str:
    (receipt,) = chain.transact(dev_account(1), [TxRequest(None, EMITTER_INIT, gas=100_000)])
    assert receipt.contract_address is not None
    return receipt.contract_address


def _log_blocks(chain: Chain, emitter: str, count: int, start: int) -> list[int]:
    """`count` blocks, each with one log; their numbers."""
    return [
        chain.transact(
            dev_account(1), [TxRequest(emitter, (start + i).to_bytes(8, "big"), gas=50_000)]
        )[0].block_number
        for i in range(count)
    ]


def test_a_log_query_across_the_boundary_misses_no_block_mined_meanwhile(chain: Chain) -> None:
    emitter = _emitter(chain)
    logged = _log_blocks(chain, emitter, 2 * NODE_KEEPS_BLOCKS, 0)
    archive: Archive = chain.rpc.archive  # type: ignore[attr-defined]
    scan = archive.logs
    mined: list[int] = []

    def scan_while_blocks_are_mined(*args: Any) -> list[dict[str, Any]]:
        found = scan(*args)
        if not mined:  # a long scan: more than the archive's margin of blocks mined meanwhile
            mined.extend(_log_blocks(chain, emitter, NODE_KEEPS_BLOCKS + 2, 1000))
        return found

    archive.logs = scan_while_blocks_are_mined  # type: ignore[method-assign]
    logs = chain.rpc.call("eth_getLogs", [{"fromBlock": "0x0", "address": emitter}])
    del archive.logs
    served = [int(log["blockNumber"], 16) for log in logs]
    assert mined  # the scan did run
    assert served[: len(logged)] == logged  # every block, once, oldest first
    assert served == sorted(set(served))
    # no fromBlock: JSON-RPC's "latest", not the whole history
    latest = chain.rpc.call("eth_getLogs", [{"address": emitter}])
    assert {int(log["blockNumber"], 16) for log in latest} <= {chain.block_number()}
    assert len(latest) <= 1


def test_a_long_log_query_reads_the_node_headers_in_windows_and_keeps_few_and_genesis_is_served(
    chain: Chain, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A log query over the whole history holds one window of the node's headers at a time and
    the archive remembers a bounded number of them (a query from block 0 of a long chain would
    otherwise hold every header), and still finds every log across the windows' edges."""
    emitter = _emitter(chain)
    logged = _log_blocks(chain, emitter, NODE_KEEPS_BLOCKS + 8, 0)
    archive: Archive = chain.rpc.archive  # type: ignore[attr-defined]
    monkeypatch.setattr(archive_module, "LOG_WINDOW", 3)
    monkeypatch.setattr(archive._node_headers, "limit", 4)
    logs = chain.rpc.call("eth_getLogs", [{"fromBlock": "0x0", "address": emitter}])
    assert [int(log["blockNumber"], 16) for log in logs] == logged
    assert len(archive._node_headers) <= 4
    # the genesis block is not archived (it holds no transaction): the node answers it whole
    node = RpcClient(chain.rpc.url)
    genesis = node.call("eth_getBlockByNumber", ["0x0", True])
    assert chain.rpc.call("eth_getBlockByNumber", ["0x0", True]) == genesis
    assert chain.rpc.call("eth_getBlockByNumber", ["earliest", False]) == genesis
    assert chain.rpc.call("eth_getBlockByHash", [genesis["hash"], True]) == genesis
    assert chain.rpc.call("eth_getBlockReceipts", ["0x0"]) == []


def test_a_block_journaled_but_not_archived_is_repaired_or_refused_never_empty(
    chain: Chain, monkeypatch: pytest.MonkeyPatch
) -> None:
    emitter = _emitter(chain)
    archive: Archive = chain.rpc.archive  # type: ignore[attr-defined]
    record_from = archive.record_from
    lost: list[int] = []

    def dies_before_archiving_once(rpc: RpcClient, block: JournalBlock) -> None:
        if len(lost) < 1 + bool(repairable):
            lost.append(block.number)  # the worker died after journaling: nothing archived
            return
        record_from(rpc, block)

    repairable: list[int] = []
    monkeypatch.setattr(archive, "record_from", dies_before_archiving_once)
    _log_blocks(chain, emitter, 3, 0)  # the first block is lost, later ones archived
    monkeypatch.setattr(archive, "record_from", record_from)
    (gap,) = lost
    assert archive.holds(chain.journal.head()) and not archive.holds(_journaled(chain, gap))
    # the node still holds the block whole: recovery archives it, though later ones are archived
    chain.recover()
    assert archive.holds(_journaled(chain, gap))
    _log_blocks(chain, emitter, NODE_KEEPS_BLOCKS + 2, 10)
    assert chain.rpc.call("eth_getBlockReceipts", [hex(gap)])[0]["status"] == "0x1"

    # lost, then pruned before any read (a process mined blocks and died before journaling
    # them): recovery and reads refuse, rather than answer the block empty
    repairable.append(1)
    monkeypatch.setattr(archive, "record_from", dies_before_archiving_once)
    _log_blocks(chain, emitter, 2, 100)
    monkeypatch.setattr(archive, "record_from", record_from)
    pruned = lost[-1]
    node = RpcClient(chain.rpc.url)
    node.call("anvil_mine", [hex(NODE_KEEPS_BLOCKS + 2)])
    assert node.call("eth_getBlockReceipts", [hex(pruned)]) == []
    with pytest.raises(AmanatError, match=f"block {pruned} "):
        chain.recover()
    with pytest.raises(AmanatError, match=f"block {pruned} "):
        chain.rpc.call("eth_getBlockReceipts", [hex(pruned)])
    with pytest.raises(AmanatError, match=f"block {pruned} "):
        chain.rpc.call("eth_getLogs", [{"fromBlock": "0x0", "address": emitter}])


def _journaled(chain: Chain, number: int) -> JournalBlock:
    return next(b for b in chain.journal.blocks_after(number - 1) if b.number == number)


def _outside_sends(url: str, emitter: str) -> list[str]:
    """A wallet's own transactions over plain JSON-RPC, one of each type a wallet signs: legacy
    (EIP-155), EIP-2930 (access list), EIP-1559, an EIP-1559 contract creation and an EIP-7702
    code delegation."""
    wallet = Account.create()
    node = RpcClient(url)
    to = to_checksum_address(emitter)
    nonce = int(node.call("eth_getTransactionCount", [wallet.address, "pending"]), 16)
    common = {"gas": 200_000, "value": 0, "chainId": 31337}
    fees = {"maxFeePerGas": 0, "maxPriorityFeePerGas": 0, "type": 2}
    slot = {"address": to, "storageKeys": ["0x" + "00" * 31 + "01"]}
    txs = [
        {**common, "nonce": nonce, "gasPrice": 0, "to": to, "data": b"legacy"},
        {
            **common,
            "nonce": nonce + 1,
            "gasPrice": 0,
            "to": to,
            "data": b"2930",
            "accessList": [slot],
            "type": 1,
        },
        {**common, **fees, "nonce": nonce + 2, "to": to, "data": b"1559"},
        {**common, **fees, "nonce": nonce + 3, "data": EMITTER_INIT},
        {  # EIP-7702: the wallet delegates its code (the authority's nonce is after the tx's)
            **common,
            **fees,
            "type": 4,
            "nonce": nonce + 4,
            "to": wallet.address,
            "data": b"",
            "authorizationList": [
                wallet.sign_authorization({"chainId": 31337, "address": to, "nonce": nonce + 5})
            ],
        },
    ]
    raws = ["0x" + bytes(wallet.sign_transaction(tx).raw_transaction).hex() for tx in txs]
    hashes = [node.call("eth_sendRawTransaction", [raw]) for raw in raws]
    deadline = time.monotonic() + 30  # the block producer mines them
    while node.call("eth_getTransactionReceipt", [hashes[-1]]) is None:
        assert time.monotonic() < deadline, "the wallet's transactions were not mined"
        time.sleep(0.1)
    return hashes


def _edit(archive: Archive, number: int, column: str, change: Callable[[Any], None]) -> bytes:
    """Edit block `number`'s archived `column` on disk, as anyone with the file could; the
    original row's blob."""
    db = sqlite3.connect(archive.path)
    (blob,) = db.execute(f"SELECT {column} FROM block WHERE number = ?", (number,)).fetchone()
    value = json.loads(zlib.decompress(blob))
    change(value)
    edited = zlib.compress(json.dumps(value).encode())
    db.execute(f"UPDATE block SET {column} = ? WHERE number = ?", (edited, number))
    db.commit()
    db.close()
    return bytes(blob)


def _restore(archive: Archive, number: int, column: str, blob: bytes) -> None:
    db = sqlite3.connect(archive.path)
    db.execute(f"UPDATE block SET {column} = ? WHERE number = ?", (blob, number))
    db.commit()
    db.close()


def test_an_archived_block_is_served_only_if_it_matches_the_node_header(chain: Chain) -> None:
    emitter = _emitter(chain)  # Amanat's own (legacy, EIP-155) transactions
    _log_blocks(chain, emitter, 1, 0)
    outside = _outside_sends(chain.rpc.url, emitter)
    node = RpcClient(chain.rpc.url)
    first_outside = int(node.call("eth_getTransactionReceipt", [outside[0]])["blockNumber"], 16)
    numbers = range(1, chain.block_number() + 1)
    whole = {
        n: (
            node.call("eth_getBlockByNumber", [hex(n), True]),
            node.call("eth_getBlockReceipts", [hex(n)]),
        )
        for n in numbers
    }
    _log_blocks(chain, emitter, NODE_KEEPS_BLOCKS + 2, 100)  # the node drops them; archived
    assert node.call("eth_getBlockReceipts", [hex(first_outside)]) == []
    # genuine history of every transaction type is served, as the node gave it
    for n in numbers:
        assert chain.rpc.call("eth_getBlockByNumber", [hex(n), True]) == whole[n][0]
        assert chain.rpc.call("eth_getBlockByHash", [whole[n][0]["hash"], True]) == whole[n][0]
        assert chain.rpc.call("eth_getBlockReceipts", [hex(n)]) == whole[n][1]
    types = {t["type"] for n in numbers for t in whole[n][0]["transactions"]}
    assert types == {"0x0", "0x1", "0x2", "0x4"}
    logs = chain.rpc.call(
        "eth_getLogs", [{"fromBlock": "0x1", "toBlock": hex(numbers[-1]), "address": emitter}]
    )
    sent = [b"legacy", b"2930", b"1559"]
    assert [log["data"] for log in logs][-3:] == ["0x" + d.hex() for d in sent]

    # an edited row (a log's data, a transaction's value or sender, a header field) or a
    # deleted one is refused, by every read that would serve it
    archive: Archive = chain.rpc.archive  # type: ignore[attr-defined]
    logged = int(logs[-1]["blockNumber"], 16)

    def raise_amount(receipts: list[dict[str, Any]]) -> None:
        (log,) = [g for r in receipts for g in r["logs"] if g["data"] == "0x" + b"1559".hex()]
        log["data"] = "0x" + b"1560".hex()

    def redirect(transactions: list[dict[str, Any]]) -> None:
        transactions[0]["value"] = hex(10**18)

    def impersonate(transactions: list[dict[str, Any]]) -> None:
        transactions[0]["from"] = dev_account(0).address.lower()

    def backdate(header: dict[str, Any]) -> None:
        header["timestamp"] = hex(int(header["timestamp"], 16) - 86_400)

    reads: list[tuple[str, list[Any]]] = [
        ("eth_getBlockReceipts", [hex(logged)]),
        ("eth_getLogs", [{"fromBlock": "0x1", "toBlock": hex(logged), "address": emitter}]),
        ("eth_getBlockByNumber", [hex(logged), True]),
        ("eth_getBlockByHash", [whole[logged][0]["hash"], False]),
        ("eth_getTransactionReceipt", [outside[0]]),
        ("eth_getTransactionByHash", [outside[0]]),
    ]

    def status_read_two_ways(receipts: list[dict[str, Any]]) -> None:
        receipts[0]["status"] = "0x0_1"  # 1 to Python's int(), 0 to JavaScript's parseInt

    def nonce_as_json_number(transactions: list[dict[str, Any]]) -> None:
        transactions[0]["nonce"] = int(transactions[0]["nonce"], 16)

    def input_with_spaces(transactions: list[dict[str, Any]]) -> None:
        data = transactions[0]["input"][2:]
        transactions[0]["input"] = (
            "0x" + " ".join(data[i : i + 2] for i in range(0, len(data), 2)) + " "
        )

    for column, change in [
        ("receipts", raise_amount),
        ("transactions", redirect),
        ("transactions", impersonate),
        ("header", backdate),
        # the same numbers and bytes written so that readers disagree on them: roots still match
        ("receipts", status_read_two_ways),
        ("transactions", nonce_as_json_number),
        ("transactions", input_with_spaces),
    ]:
        original = _edit(archive, logged, column, change)
        for method, params in reads:
            with pytest.raises(AmanatError, match=f"block {logged} .*does not match"):
                chain.rpc.call(method, params)
        _restore(archive, logged, column, original)
    assert chain.rpc.call("eth_getBlockReceipts", [hex(logged)]) == whole[logged][1]
    # a legacy transaction's yParity and chainId, which its signature's v already says
    legacy_block = first_outside
    (legacy,) = [t for t in whole[legacy_block][0]["transactions"] if t["type"] == "0x0"]
    v = int(legacy["v"], 16)

    def other_parity(transactions: list[dict[str, Any]]) -> None:
        (tx,) = [t for t in transactions if t["hash"] == legacy["hash"]]
        tx["yParity"] = hex(1 - (v - 35) % 2)

    original = _edit(archive, legacy_block, "transactions", other_parity)
    with pytest.raises(AmanatError, match=f"block {legacy_block} .*does not match"):
        chain.rpc.call("eth_getBlockByNumber", [hex(legacy_block), True])
    _restore(archive, legacy_block, "transactions", original)
    db = sqlite3.connect(archive.path)
    db.execute("DELETE FROM block WHERE number = ?", (logged,))
    db.commit()
    db.close()
    with pytest.raises(AmanatError, match=f"block {logged} is missing"):
        chain.rpc.call("eth_getBlockReceipts", [hex(logged)])
    with pytest.raises(AmanatError, match=f"block {logged} is missing"):
        chain.rpc.call("eth_getLogs", [{"fromBlock": "0x1", "address": emitter}])
