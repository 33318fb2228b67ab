"""Deploy Amanat's contracts and keep the deployment manifest (addresses, code hashes, chain id).

The manifest is written on deploy and checked on every connect: a different chain, a missing
contract or different code on chain is a clear error, never a silent mismatch.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import rlp
from eth_abi import encode
from eth_utils import function_signature_to_4byte_selector, keccak, to_checksum_address

from amanat.chain.artifacts import CONTRACT_NAMES, load
from amanat.chain.client import Chain, TxRequest
from amanat.domain.governance import (
    DEFAULT_TIMELOCKS,
    EVIDENCE_REQUIRED,
    GOVERNED_FUNCTIONS,
    ActionType,
)
from amanat.errors import DeploymentMismatch, InvalidInput

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount

MANIFEST_VERSION = 1


@dataclass(frozen=True)
class DeployedContract:
    address: str
    code_hash: str
    source_sha256: str


@dataclass(frozen=True)
class Manifest:
    version: int
    chain_id: int
    deployed_block: int
    deployer: str
    contracts: dict[str, DeployedContract]

    def address(self, name: str) -> str:
        return self.contracts[name].address

    def save(self, path: Path) -> None:
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(asdict(self), indent=2, sort_keys=True) + "\n")
        temporary.replace(path)

    @classmethod
    def load(cls, path: Path) -> Manifest:
        if not path.exists():
            raise DeploymentMismatch(f"no deployment manifest at {path}: run `amanat deploy` first")
        data = json.loads(path.read_text())
        if data.get("version") != MANIFEST_VERSION:
            raise DeploymentMismatch(
                f"deployment manifest {path} has version {data.get('version')}, "
                f"expected {MANIFEST_VERSION}"
            )
        return cls(
            version=data["version"],
            chain_id=data["chain_id"],
            deployed_block=data["deployed_block"],
            deployer=data["deployer"],
            contracts={k: DeployedContract(**v) for k, v in data["contracts"].items()},
        )


@dataclass(frozen=True)
class GovernanceSetup:
    officials: tuple[str, ...]
    threshold: int
    registrars: tuple[str, ...]
    issuers: tuple[str, ...]
    valuers: tuple[str, ...]
    timelocks: dict[ActionType, int]
    reserve_auditors: tuple[str, ...] = ()
    cash_name: str = "Pakistan Rupee Deposit Token"
    cash_symbol: str = "PKRT"
    cash_decimals: int = 2
    publishers: tuple[str, ...] = ()  # who anchors the transparency log's tree heads

    def __post_init__(self) -> None:
        if len(set(self.officials)) != len(self.officials):
            raise InvalidInput("officials must be distinct")
        if not 1 <= self.threshold <= len(self.officials):
            raise InvalidInput(
                f"threshold {self.threshold} must be between 1 and the number of officials "
                f"({len(self.officials)})"
            )


def create_address(sender: str, nonce: int) -> str:
    """The address CREATE gives a contract deployed by `sender` at `nonce`."""
    encoded = rlp.encode([bytes.fromhex(sender[2:]), nonce])
    return to_checksum_address(keccak(encoded)[12:])


def _creation(name: str, constructor_types: list[str], args: list[object]) -> bytes:
    return load(name).bytecode + encode(constructor_types, args)


def deploy(chain: Chain, deployer: LocalAccount, setup: GovernanceSetup) -> Manifest:
    """Deploy governance, registries, the token blueprint and factory, the cash token, the
    settlement contracts (DvP, auction, distributor) and the transparency anchor in one ordered
    batch."""
    sender = to_checksum_address(deployer.address)
    start_block = chain.block_number()
    nonce = chain.journal.known_nonce(sender)
    chain_nonce = int(chain.rpc.call("eth_getTransactionCount", [sender, "pending"]), 16)
    base = max(nonce or 0, chain_nonce)
    addresses = {name: create_address(sender, base + i) for i, name in enumerate(CONTRACT_NAMES)}
    governance, identity, assets, factory, cash = (
        addresses[name]
        for name in ("Governance", "IdentityRegistry", "AssetRegistry", "TokenFactory", "CashToken")
    )
    agents = [addresses[name] for name in ("Settlement", "Auction", "Distributor")]
    selectors = [function_signature_to_4byte_selector(sig) for sig in GOVERNED_FUNCTIONS]
    action_types = [int(a) for a in GOVERNED_FUNCTIONS.values()]
    delays = {**DEFAULT_TIMELOCKS, **setup.timelocks}
    creations = [
        _creation(
            "Governance",
            ["address[]", "uint256", "bytes4[]", "uint8[]", "uint8[]", "uint8[]", "uint256[]"],
            [
                list(setup.officials),
                setup.threshold,
                selectors,
                action_types,
                [int(a) for a in EVIDENCE_REQUIRED],
                [int(a) for a in delays],
                list(delays.values()),
            ],
        ),
        _creation(
            "IdentityRegistry", ["address", "address[]"], [governance, list(setup.registrars)]
        ),
        _creation(
            "AssetRegistry",
            ["address", "address[]", "address[]", "address", "address[]", "address[]"],
            [
                governance,
                list(setup.issuers),
                list(setup.valuers),
                factory,
                list(setup.reserve_auditors),
                agents,
            ],
        ),
        load("AssetToken").blueprint_bytecode,
        _creation(
            "TokenFactory",
            ["address", "address", "address", "address"],
            [governance, identity, assets, addresses["AssetToken"]],
        ),
        _creation(
            "CashToken",
            ["string", "string", "uint8", "address", "address", "address[]", "address"],
            [
                setup.cash_name,
                setup.cash_symbol,
                setup.cash_decimals,
                identity,
                governance,
                agents,
                addresses["Distributor"],
            ],
        ),
        _creation("Settlement", ["address", "address"], [assets, cash]),
        _creation("Auction", ["address", "address", "address"], [assets, cash, governance]),
        _creation("Distributor", ["address", "address"], [cash, governance]),
        _creation(
            "TransparencyAnchor", ["address", "address[]"], [governance, list(setup.publishers)]
        ),
    ]
    names = list(CONTRACT_NAMES)
    receipts = chain.transact(
        deployer,
        [
            TxRequest(None, code, description=f"deploy {name}")
            for name, code in zip(names, creations, strict=True)
        ],
    )
    for name, receipt in zip(names, receipts, strict=True):
        if (
            receipt.contract_address is None
            or to_checksum_address(receipt.contract_address) != addresses[name]
        ):
            raise DeploymentMismatch(
                f"{name} was not deployed at its expected address {addresses[name]}"
            )
    manifest = Manifest(
        version=MANIFEST_VERSION,
        chain_id=chain.chain_id,
        deployed_block=start_block + 1,
        deployer=sender,
        contracts={
            name: DeployedContract(
                address=addresses[name],
                code_hash="0x" + keccak(chain.code(addresses[name])).hex(),
                source_sha256=json.loads(
                    (Path(__file__).parent / "artifacts" / f"{name}.json").read_text()
                )["sourceSha256"],
            )
            for name in names
        },
    )
    return manifest


def verify(chain: Chain, manifest: Manifest) -> None:
    """Refuse to work against a chain that does not hold exactly the deployed contracts."""
    if chain.chain_id != manifest.chain_id:
        raise DeploymentMismatch(
            f"connected to chain id {chain.chain_id} but the deployment is on chain id "
            f"{manifest.chain_id}"
        )
    for name, contract in manifest.contracts.items():
        code = chain.code(contract.address)
        if not code:
            raise DeploymentMismatch(f"{name} has no code at {contract.address} on this chain")
        actual = "0x" + keccak(code).hex()
        if actual != contract.code_hash:
            raise DeploymentMismatch(
                f"{name} at {contract.address} has code hash {actual}, manifest says "
                f"{contract.code_hash}"
            )
        source = json.loads((Path(__file__).parent / "artifacts" / f"{name}.json").read_text())
        if source["sourceSha256"] != contract.source_sha256:
            raise DeploymentMismatch(
                f"contracts/{name}.vy changed since deployment (source hash "
                f"{source['sourceSha256'][:12]}…, deployed {contract.source_sha256[:12]}…): "
                "redeploy or check out the deployed version"
            )
