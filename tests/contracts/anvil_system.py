"""The contract suite's pilot deployment (conftest.System) on a real anvil node, for tests that
run thousands of transactions (the stateful property test).

titanoboa runs the EVM in Python (py-evm): ~5 ms a transaction. anvil (revm, the node Amanat
embeds) runs the same compiled artifacts (src/amanat/chain/artifacts, Vyper 0.4.3, prague) for
well under 1 ms of CPU a transaction. What keeps it there (measured on the state machine, CPU of
anvil plus this process per example, 92.7 ms before, ~37 ms after): `--prune-history` (anvil
otherwise keeps a copy of the state for every mined block: 45 -> 25 ms of anvil CPU), JSON-RPC
over anvil's IPC socket on one persistent connection instead of HTTP (0.02 ms of Python a call
against 0.2 ms through http.client), calldata encoded once per distinct call, and one-word
results and the books' figures read without eth_abi. The handles mimic titanoboa's:
`contract.fn(*args)` calls a view through `eth_call` and sends anything else as a transaction
(mined alone in its block by `evm_mine`, see `AnvilChain.transact`) from the sender set by
`chain.prank`; `chain.reverts(reason)` expects a revert with that reason; `chain.anchor()` undoes
everything inside it (`evm_snapshot` / `evm_revert`). Senders are impersonated (no signing) and
pay no gas; every block has the timestamp `chain.timestamp` until `chain.time_travel`.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import itertools
import json
import os
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from functools import cache
from typing import Any

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_utils import function_signature_to_4byte_selector, keccak, to_checksum_address
from vyper import compile_code

from amanat.chain.artifacts import load
from amanat.chain.deploy import create_address
from amanat.chain.node import anvil_binary
from amanat.chain.rpc import RpcError
from amanat.domain.identity import InvestorCategory

from .conftest import (
    AE,
    BASE_RULES,
    GB,
    LIFETIME,
    MAX_UNITS,
    NO_TERMS,
    PK,
    YEAR,
    ZERO32,
    Identity,
    governance_ctor_args,
    h,
)

GAS = 30_000_000
ERROR_SELECTOR = bytes.fromhex("08c379a0")  # Error(string)


class Reverted(Exception):
    """A call or transaction reverted; `reason` is its Error(string) message, if any."""

    def __init__(self, reason: str | None, what: str) -> None:
        super().__init__(f"{what} reverted: {reason!r}")
        self.reason = reason


def _abi_type(param: dict[str, Any]) -> str:
    kind = param["type"]
    if kind.startswith("tuple"):
        return "(" + ",".join(_abi_type(c) for c in param["components"]) + ")" + kind[5:]
    return str(kind)


@cache
def _checksum(address: str) -> str:
    return str(to_checksum_address(address))


@cache
def _struct(name: str, fields: tuple[str, ...]) -> type:
    return collections.namedtuple(name, fields)  # type: ignore[misc]


def _shape(param: dict[str, Any], value: Any) -> Any:
    """A decoded struct as a named tuple (titanoboa's `identityOf(n).kycExpiry`)."""
    if param["type"] == "tuple":
        fields = tuple(c["name"] for c in param["components"])
        shaped = (_shape(c, v) for c, v in zip(param["components"], value, strict=True))
        return _struct("Struct", fields)(*shaped)
    return value


def _revert_reason(data: Any) -> str | None:
    raw = bytes.fromhex(data[2:]) if isinstance(data, str) and data.startswith("0x") else b""
    if raw[:4] != ERROR_SELECTOR:
        return None
    return str(abi_decode(["string"], raw[4:])[0])


class Function:
    def __init__(self, contract: Contract, abi: dict[str, Any]) -> None:
        self.contract = contract
        self.name = abi["name"]
        self.inputs = [_abi_type(p) for p in abi["inputs"]]
        self.outputs = abi["outputs"]
        self.view = abi["stateMutability"] in ("view", "pure")
        signature = f"{self.name}({','.join(self.inputs)})"
        self.selector = function_signature_to_4byte_selector(signature)
        self._calldata: dict[str, bytes] = {}
        kinds = [p["type"] for p in self.outputs]
        single = len(kinds) == 1 and (kinds[0] == "bool" or kinds[0].startswith("uint"))
        self.word = kinds[0] if single else None

    def prepare_calldata(self, *args: Any) -> bytes:
        # A run encodes the same few hundred calls thousands of times: encode each once (the
        # key is the arguments' repr: exact for the ints, bytes, str, bools and lists used).
        key = repr(args)
        calldata = self._calldata.get(key)
        if calldata is None:
            if len(self._calldata) > 20_000:
                self._calldata.clear()
            calldata = self._calldata[key] = self.selector + abi_encode(self.inputs, list(args))
        return calldata

    def decode(self, raw: bytes) -> Any:
        if self.word is not None and len(raw) == 32:  # one uint or bool: read the word
            value = int.from_bytes(raw, "big")
            bits = 1 if self.word == "bool" else int(self.word[4:] or 256)
            assert value >> bits == 0, f"{self.name} returned {value:#x}, not a {self.word}"
            return bool(value) if self.word == "bool" else value
        values = abi_decode([_abi_type(p) for p in self.outputs], raw)
        shaped = [_shape(p, v) for p, v in zip(self.outputs, values, strict=True)]
        return shaped[0] if len(shaped) == 1 else tuple(shaped)

    def __call__(self, *args: Any) -> Any:
        """A view's decoded result; for anything else, the transaction's receipt."""
        chain = self.contract.chain
        calldata = self.prepare_calldata(*args)
        what = f"{self.contract.name}.{self.name}"
        if self.view:
            return self.decode(chain.call(self.contract.address, calldata, what))
        return chain.transact(self.contract.address, calldata, what)

    def simulate(self, *args: Any) -> Any:
        """What the transaction would return now (an `eth_call`; nothing is sent)."""
        calldata = self.prepare_calldata(*args)
        what = f"{self.contract.name}.{self.name}"
        return self.decode(self.contract.chain.call(self.contract.address, calldata, what))


class Contract:
    def __init__(self, chain: AnvilChain, name: str, address: str) -> None:
        self.chain = chain
        self.name = name
        self.address = to_checksum_address(address)
        self.topics: dict[str, str] = {}
        for entry in load(name).abi:
            if entry["type"] == "function":
                setattr(self, entry["name"], Function(self, entry))
            elif entry["type"] == "event":
                types = ",".join(_abi_type(p) for p in entry["inputs"])
                self.topics[entry["name"]] = (
                    "0x" + keccak(f"{entry['name']}({types})".encode()).hex()
                )

    def first_indexed(self, receipt: dict[str, Any], event: str) -> int:
        """The first indexed field (an id) of the first `event` this contract logged."""
        topic = self.topics[event]
        for log in receipt["logs"]:
            if log["topics"][0] == topic and _checksum(log["address"]) == self.address:
                return int(log["topics"][1], 16)
        raise AssertionError(f"{self.name} logged no {event}")


class IpcRpc:
    """JSON-RPC over anvil's IPC socket, one persistent connection, one request at a time
    (anvil answers each with one line of JSON). Measured: ~0.02 ms of Python CPU a call
    against ~0.2 ms through http.client, and anvil parses no HTTP."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.sock: socket.socket | None = None
        self._ids = itertools.count(1)

    def connect(self) -> bool:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(self.path)
        except OSError:
            sock.close()
            return False
        sock.settimeout(120)
        self.sock = sock
        return True

    def call(self, method: str, params: list[Any] | None = None) -> Any:
        assert self.sock is not None
        request = {"jsonrpc": "2.0", "id": next(self._ids), "method": method}
        request["params"] = params or []
        self.sock.sendall(json.dumps(request).encode())
        chunks = [self.sock.recv(1 << 16)]
        while not chunks[-1].endswith(b"\n"):
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise ConnectionError(f"anvil closed its IPC socket during {method}")
            chunks.append(chunk)
        reply = json.loads(b"".join(chunks))
        assert reply.get("id") == request["id"], f"{method}: answer to another request"
        if "error" in reply:
            raise RpcError(method, reply["error"])
        return reply["result"]

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None


class AnvilChain:
    """One anvil process (started here, stopped by `close`) and the calls made on it, through
    its IPC socket (no HTTP server is used: `--port 0`)."""

    def __init__(self) -> None:
        self._directory = tempfile.TemporaryDirectory(prefix="amanat-anvil-")
        ipc = os.path.join(self._directory.name, "anvil.ipc")
        self.process = subprocess.Popen(
            [
                anvil_binary(),
                *("--ipc", ipc, "--port", "0", "--hardfork", "prague", "--base-fee", "0"),
                *("--gas-limit", str(GAS), "--auto-impersonate", "--silent", "--prune-history"),
                "--no-mining",
            ]
        )
        self.rpc = IpcRpc(ipc)
        for _ in range(300):
            if self.rpc.connect():
                break
            time.sleep(0.05)
        else:
            self.close()
            raise RuntimeError("anvil did not start")
        self.eoa = to_checksum_address(keccak(b"deployer")[12:])
        self.sender = self.eoa
        # Every block has this timestamp until time_travel: titanoboa's model of time.
        self.rpc.call("anvil_setBlockTimestampInterval", [0])
        self.timestamp = int(
            self.rpc.call("eth_getBlockByNumber", ["latest", False])["timestamp"], 16
        )
        self.time_travel(1)

    def close(self) -> None:
        self.rpc.close()
        self.process.terminate()
        self.process.wait(timeout=30)
        self._directory.cleanup()

    # ------------------------------------------------------------ environment

    def generate_address(self, label: str) -> str:
        return to_checksum_address(keccak(f"amanat test {label}".encode())[12:])

    def time_travel(self, seconds: int) -> None:
        self.timestamp += seconds
        self.rpc.call("evm_setNextBlockTimestamp", [self.timestamp])
        self.rpc.call("evm_mine", [])

    @contextlib.contextmanager
    def prank(self, sender: str) -> Iterator[None]:
        previous, self.sender = self.sender, _checksum(sender)
        try:
            yield
        finally:
            self.sender = previous

    @contextlib.contextmanager
    def anchor(self) -> Iterator[None]:
        snapshot, timestamp = self.rpc.call("evm_snapshot"), self.timestamp
        try:
            yield
        finally:
            assert self.rpc.call("evm_revert", [snapshot]), "anvil lost a snapshot"
            self.timestamp = timestamp

    @contextlib.contextmanager
    def reverts(self, reason: str | None = None) -> Iterator[None]:
        """The block must revert (with `reason`, if given)."""
        try:
            yield
        except Reverted as exc:
            if reason is not None and exc.reason != reason:
                raise AssertionError(f"expected revert {reason!r}, got {exc}") from None
            return
        raise AssertionError(f"expected a revert ({reason!r}); nothing reverted")

    # ------------------------------------------------------------ calls

    def _message(self, to: str | None, data: bytes) -> dict[str, Any]:
        message = {"from": self.sender, "data": "0x" + data.hex(), "gas": hex(GAS)}
        message["gasPrice"] = "0x0"
        if to is not None:
            message["to"] = to
        return message

    def call(self, to: str, data: bytes, what: str) -> bytes:
        try:
            result = self.rpc.call("eth_call", [self._message(to, data), "latest"])
        except RpcError as exc:
            raise Reverted(_revert_reason(exc.data), what) from None
        return bytes.fromhex(result[2:])

    def transact(self, to: str | None, data: bytes, what: str) -> dict[str, Any]:
        """Send a transaction (mined at once; `to` None creates a contract); its receipt. A
        reverted one raises Reverted with the reason a call in the same state gives."""
        # anvil runs with --no-mining: the transaction waits in the pool until `evm_mine`
        # (which returns once the block is mined), then the block's one receipt is read. Not
        # `eth_sendTransactionSync`: under load it can miss the block it waits for and answer
        # "Transaction confirmation timeout" (seen at ~1 in 50,000 transactions on a loaded
        # machine), and a hash mined in a reverted example may be sent again.
        tx_hash = self.rpc.call("eth_sendTransaction", [self._message(to, data)])
        self.rpc.call("evm_mine", [])
        receipts = self.rpc.call("eth_getBlockReceipts", ["latest"])
        assert [r["transactionHash"] for r in receipts] == [tx_hash], f"{what}: not mined alone"
        receipt: dict[str, Any] = receipts[0]
        if receipt["status"] != "0x1":
            if to is not None:
                self.call(to, data, what)  # raises with the reason (same state, same time)
            raise Reverted(None, what)
        return receipt

    def nonce(self, address: str) -> int:
        return int(self.rpc.call("eth_getTransactionCount", [address, "latest"]), 16)


def _creation(contract: str, **named: Any) -> bytes:
    """Creation code with constructor arguments by parameter name (trailing `_` optional);
    parameters not given get a neutral default (empty list, zero address, 0)."""
    abi = load(contract).abi
    inputs = next((x["inputs"] for x in abi if x["type"] == "constructor"), [])
    types, args = [], []
    for param in inputs:
        types.append(_abi_type(param))
        key = param["name"]
        value = named.pop(key, named.pop(key.rstrip("_"), None))
        args.append(value if value is not None else abi_decode([types[-1]], _zero(types[-1]))[0])
    assert not named, f"unknown constructor parameters {sorted(named)}"
    return load(contract).bytecode + abi_encode(types, args)


def _zero(abi_type: str) -> bytes:
    """The ABI encoding of a type's neutral value (an empty array, zero, empty bytes)."""
    dynamic = abi_type.endswith("[]") or abi_type in ("bytes", "string")
    return (32).to_bytes(32, "big") + bytes(32) if dynamic else bytes(32)


# Every figure the invariants compare, read in one call (a contract-to-contract call is cheap
# on revm: ~0.3 ms for the lot against ~2 ms for 45 batched eth_calls).
BOOKS_SOURCE = """
#pragma version ~=0.4.3
interface Token:
    def balanceOf(wallet: address) -> uint256: view
    def getFrozenTokens(wallet: address) -> uint256: view
    def isFrozen(wallet: address) -> bool: view
    def settlementLocked(wallet: address) -> uint256: view
    def identityHolding(identityNumber: uint256) -> uint256: view
    def totalSupply() -> uint256: view
    def holderCount() -> uint256: view
    def foreignHeld() -> uint256: view
    def paused() -> bool: view

@external
@view
def books(
    token: Token, wallets: DynArray[address, 16], numbers: DynArray[uint256, 16]
) -> DynArray[uint256, 100]:
    out: DynArray[uint256, 100] = [
        staticcall token.totalSupply(),
        staticcall token.holderCount(),
        staticcall token.foreignHeld(),
        convert(staticcall token.paused(), uint256),
    ]
    for wallet: address in wallets:
        out.append(staticcall token.balanceOf(wallet))
        out.append(staticcall token.getFrozenTokens(wallet))
        out.append(convert(staticcall token.isFrozen(wallet), uint256))
        out.append(staticcall token.settlementLocked(wallet))
    for number: uint256 in numbers:
        out.append(staticcall token.identityHolding(number))
    return out
"""


@dataclasses.dataclass(frozen=True)
class Books:
    """A token's books as one call reads them: totals, then per wallet and per identity."""

    supply: int
    holders: int
    foreign: int
    paused: bool
    balance: list[int]
    frozen_tokens: list[int]
    frozen: list[bool]
    locked: list[int]
    holding: list[int]


class System:
    """conftest.System's deployment on anvil: Governance 2-of-3 with zero timelocks, the
    registries, factory, cash token and settlement contracts wired as amanat.chain.deploy wires
    them, one approved, tokenized asset and the same onboarded institutions, plus the helpers
    that act through governance."""

    def __init__(self, chain: AnvilChain) -> None:
        self.chain = chain
        self.calls: dict[int, tuple[str, bytes, bytes]] = {}  # proposed calls by their id
        self.dvp_terms: dict[int, tuple] = {}
        self._books_calldata: dict[tuple[tuple[str, ...], tuple[int, ...]], bytes] = {}
        label = chain.generate_address
        self.officials = [label(f"official{i}") for i in range(1, 4)]
        self.outsider = label("outsider")
        self.registrar = label("registrar")
        self.issuer = label("issuer")
        self.valuer = label("valuer")
        self.auditor = label("auditor")

        base = chain.nonce(chain.eoa)
        names = ("Governance", "IdentityRegistry", "AssetRegistry", "AssetToken", "TokenFactory")
        names += ("CashToken", "Settlement", "Auction", "Distributor", "Books")
        at = {name: create_address(chain.eoa, base + i) for i, name in enumerate(names)}
        agents = [at["Settlement"], at["Auction"], at["Distributor"]]
        creations = {
            "Governance": _creation("Governance", **governance_ctor_args(self.officials, 2)),
            "IdentityRegistry": _creation(
                "IdentityRegistry",
                governance=at["Governance"],
                registrars=[self.registrar],
                assetRegistry=at["AssetRegistry"],
                cashToken=at["CashToken"],
            ),
            "AssetRegistry": _creation(
                "AssetRegistry",
                governance=at["Governance"],
                issuers=[self.issuer],
                valuers=[self.valuer],
                tokenFactory=at["TokenFactory"],
                reserveAuditors=[self.auditor],
                settlementAgents=agents,
            ),
            "AssetToken": load("AssetToken").blueprint_bytecode,
            "TokenFactory": _creation(
                "TokenFactory",
                governance=at["Governance"],
                identityRegistry=at["IdentityRegistry"],
                assetRegistry=at["AssetRegistry"],
                tokenBlueprint=at["AssetToken"],
            ),
            "CashToken": _creation(
                "CashToken",
                name="Pakistan Rupee Deposit Token",
                symbol="PKRT",
                decimals=2,
                identityRegistry=at["IdentityRegistry"],
                governance=at["Governance"],
                agents=agents,
                treasurySpender=at["Distributor"],
            ),
            "Settlement": _creation(
                "Settlement", assetRegistry=at["AssetRegistry"], cashToken=at["CashToken"]
            ),
            "Auction": _creation(
                "Auction",
                assetRegistry=at["AssetRegistry"],
                cashToken=at["CashToken"],
                governance=at["Governance"],
            ),
            "Distributor": _creation(
                "Distributor", cashToken=at["CashToken"], governance=at["Governance"]
            ),
            "Books": compile_code(BOOKS_SOURCE, output_formats=["bytecode"])["bytecode"],
        }
        for name in names:
            creation = creations[name]
            if isinstance(creation, str):
                creation = bytes.fromhex(creation.removeprefix("0x"))
            receipt = chain.transact(None, creation, f"deploy {name}")
            address = to_checksum_address(receipt["contractAddress"])
            assert address == at[name], f"{name} deployed at {address}, not {at[name]}"
        self.gov = Contract(chain, "Governance", at["Governance"])
        self.idreg = Contract(chain, "IdentityRegistry", at["IdentityRegistry"])
        self.areg = Contract(chain, "AssetRegistry", at["AssetRegistry"])
        self.factory = Contract(chain, "TokenFactory", at["TokenFactory"])
        self.settlement = Contract(chain, "Settlement", at["Settlement"])
        self.books_at = at["Books"]

        # one approved, tokenized asset (as conftest.System)
        asset = (
            2, "PK-GIS-2030", "Asset PK-GIS-2030", "Ministry of Finance", "SRO PK-GIS-2030",
            h("authorisation PK-GIS-2030"), MAX_UNITS,
        )  # fmt: skip
        with chain.prank(self.issuer):
            self.asset_id = self.areg.registerAsset.simulate(*asset)
            self.areg.registerAsset(*asset)
        self.govern(self.areg, "setStatus", self.asset_id, 2)
        self.govern(
            self.factory, "createToken", self.asset_id, "Pakistan GIS 2030", "PGIS30", 0,
            BASE_RULES.rules_word(), BASE_RULES.limits_word(),
            list(BASE_RULES.countries),
        )  # fmt: skip
        self.token = Contract(chain, "AssetToken", self.factory.tokenOf(self.asset_id))

        # onboarded institutions (as conftest.System)
        self.bank = self.onboard("bank", PK, InvestorCategory.BANK, wallets=2)
        self.pension = self.onboard("pension", PK, InvestorCategory.PENSION_FUND)
        self.insurer = self.onboard("insurer", PK, InvestorCategory.INSURER)
        self.gulf = self.onboard("gulf", AE, InvestorCategory.FOREIGN_INSTITUTION)
        self.london = self.onboard("london", GB, InvestorCategory.FOREIGN_INSTITUTION)
        self.retail = self.onboard("retail", PK, InvestorCategory.RETAIL)

    def onboard(self, label: str, country: int, category: int, wallets: int = 1) -> Identity:
        addrs = [self.chain.generate_address(f"{label}{i}") for i in range(wallets)]
        args = (h(f"kyc {label}"), country, int(category), self.chain.timestamp + YEAR, addrs)
        with self.chain.prank(self.registrar):
            number = self.idreg.registerIdentity.simulate(*args)
            self.idreg.registerIdentity(*args)
        return Identity(number, country, int(category), addrs)

    def books(self, wallets: list[str], numbers: list[int]) -> Books:
        key = (tuple(wallets), tuple(numbers))
        calldata = self._books_calldata.get(key)
        if calldata is None:
            calldata = self._books_calldata[key] = function_signature_to_4byte_selector(
                "books(address,address[],uint256[])"
            ) + abi_encode(
                ["address", "address[]", "uint256[]"], [self.token.address, wallets, numbers]
            )
        data = self.chain.call(self.books_at, calldata, "books")
        # a uint256[] return: offset, length, then one word per figure (read directly: eth_abi
        # took a third of the run's Python time here)
        count = int.from_bytes(data[32:64], "big")
        assert int.from_bytes(data[:32], "big") == 32 and len(data) == 64 + 32 * count
        figures = [int.from_bytes(data[i : i + 32], "big") for i in range(64, len(data), 32)]
        per_wallet = figures[4 : 4 + 4 * len(wallets)]
        return Books(
            supply=figures[0],
            holders=figures[1],
            foreign=figures[2],
            paused=bool(figures[3]),
            balance=list(per_wallet[0::4]),
            frozen_tokens=list(per_wallet[1::4]),
            frozen=[bool(f) for f in per_wallet[2::4]],
            locked=list(per_wallet[3::4]),
            holding=list(figures[4 + 4 * len(wallets) :]),
        )

    # ------------------------------------------------------------ settlement

    def instruct(self, seller: str, buyer: str, units: int, cash: int, deadline: int) -> int:
        """`Settlement.instruct` by `seller`, remembering the terms: the contract stores only
        their hash (Amanat reads them from `DvPInstructed`)."""
        with self.chain.prank(seller):
            receipt = self.settlement.instruct(self.token.address, buyer, units, cash, deadline)
        instruction_id = self.settlement.first_indexed(receipt, "DvPInstructed")
        self.dvp_terms[instruction_id] = (
            to_checksum_address(seller),
            to_checksum_address(buyer),
            self.token.address,
            units,
            cash,
            deadline,
        )
        return instruction_id

    def terms(self, instruction_id: int) -> tuple:
        return self.dvp_terms.get(instruction_id, NO_TERMS)

    # ------------------------------------------------------------ governance

    def propose(
        self,
        target: Contract,
        fn_name: str,
        *args: Any,
        evidence: bytes = b"",
        proposer: int = 0,
        lifetime: int = LIFETIME,
    ) -> int:
        """Propose a call, remembering it for `execute` (governance stores only its hash, as
        `ProposalCreated` records it). Ids restart in every anchored example: the latest
        proposal with an id wins."""
        call = (
            target.address,
            getattr(target, fn_name).prepare_calldata(*args),
            evidence or ZERO32,
        )
        with self.chain.prank(self.officials[proposer]):
            receipt = self.gov.propose(*call, lifetime)
        proposal_id = self.gov.first_indexed(receipt, "ProposalCreated")
        self.calls[proposal_id] = call
        return proposal_id

    def approve(self, proposal_id: int, official: int = 1) -> None:
        with self.chain.prank(self.officials[official]):
            self.gov.approve(proposal_id)

    def execute(self, proposal_id: int, official: int = 1) -> None:
        with self.chain.prank(self.officials[official]):
            self.gov.execute(proposal_id, *self.calls[proposal_id])

    def govern(self, target: Contract, fn_name: str, *args: Any, evidence: bytes = b"") -> None:
        """Official 1 proposes, official 2 approves, official 2 executes (zero timelocks)."""
        pid = self.propose(target, fn_name, *args, evidence=evidence)
        self.approve(pid)
        self.execute(pid)

    def mint(self, wallet: str, amount: int) -> None:
        self.govern(self.token, "mint", wallet, amount)
