"""Deploy Amanat's contracts and keep the deployment manifest (addresses, code hashes, chain id).

The manifest is written on deploy and checked on every connect: a different chain, a missing
contract or different code on chain is a clear error, never a silent mismatch. It also states
the timelock profile the deployment was made with (production, staging, or a file's delays).
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from amanat.chain.abi import encode, selector
from amanat.chain.artifacts import CONTRACT_NAMES, load
from amanat.chain.client import Chain, TxRequest
from amanat.chain.rpc import RpcError
from amanat.domain.evm import keccak, to_checksum_address
from amanat.domain.governance import (
    DEFAULT_TIMELOCKS,
    GOVERNED_FUNCTIONS,
    ActionType,
)
from amanat.errors import DeploymentMismatch, InvalidInput

if TYPE_CHECKING:
    from amanat.chain.client import Signer

MANIFEST_VERSION = 1
PRODUCTION = "production"
STAGING = "staging"
# A staging network runs the production flow end to end in minutes: every action that waits in
# production waits this long (freeze and pause stay immediate). Never on a production chain.
STAGING_DELAY_SECONDS = 10


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
    timelock_profile: str = PRODUCTION  # production, staging, or file:<name>
    timelocks: dict[str, int] = field(default_factory=dict)  # action label -> seconds

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
            # Manifests written before profiles existed were all deployed with production delays.
            timelock_profile=data.get("timelock_profile", PRODUCTION),
            timelocks=data.get("timelocks", {}),
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


def timelock_profile(
    spec: str, chain_id: int, production_chain_ids: tuple[int, ...] = ()
) -> tuple[str, dict[ActionType, int]]:
    """The profile name and every action's delay for `--timelocks SPEC`: `production`, `staging`,
    or a TOML/JSON FILE of `action = seconds` (other actions keep production's delays).

    Delays shorter than production's are refused on a chain id marked production in the config,
    so a staging profile can never reach a production register."""
    if spec == PRODUCTION:
        name, delays = PRODUCTION, dict(DEFAULT_TIMELOCKS)
    elif spec == STAGING:
        name = STAGING
        delays = {a: (STAGING_DELAY_SECONDS if d else 0) for a, d in DEFAULT_TIMELOCKS.items()}
    else:
        name, delays = f"file:{Path(spec).name}", {**DEFAULT_TIMELOCKS, **_delays_from(Path(spec))}
    shortened = sorted(a.label for a, d in delays.items() if d < DEFAULT_TIMELOCKS[a])
    if shortened and chain_id in production_chain_ids:
        raise InvalidInput(
            f"timelock profile {name!r} shortens the delays of {', '.join(shortened)}, but chain "
            f"id {chain_id} is marked production (chain.production_chain_ids): deploy with "
            "--timelocks production"
        )
    return name, delays


def _delays_from(path: Path) -> dict[ActionType, int]:
    """Delays from a TOML or JSON file mapping action names (e.g. mint, rule change) to seconds."""
    if not path.is_file():
        raise InvalidInput(
            f"--timelocks {str(path)!r} is neither production, staging nor a readable file"
        )
    try:
        text = path.read_text()
        raw = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"timelock file {path} is not valid TOML or JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise InvalidInput(f"timelock file {path} must map action names to seconds")
    by_name = {a.name.lower(): a for a in ActionType}
    delays: dict[ActionType, int] = {}
    for key, seconds in raw.items():
        action = by_name.get(str(key).lower().replace(" ", "_").replace("-", "_"))
        if action is None:
            raise InvalidInput(
                f"timelock file {path}: unknown action {key!r} "
                f"(known: {', '.join(sorted(a.label for a in ActionType))})"
            )
        if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds < 0:
            raise InvalidInput(
                f"timelock file {path}: the delay of {key!r} must be whole seconds >= 0, "
                f"not {seconds!r}"
            )
        delays[action] = seconds
    return delays


def create_address(sender: str, nonce: int) -> str:
    """The address CREATE gives a contract deployed by `sender` at `nonce`."""
    import rlp  # imports eth-utils: only deployments need it

    encoded = rlp.encode([bytes.fromhex(sender[2:]), nonce])
    return to_checksum_address("0x" + keccak(encoded)[12:].hex())


def _creation(name: str, constructor_types: list[str], args: list[object]) -> bytes:
    return load(name).bytecode + encode(constructor_types, args)


def deploy(
    chain: Chain, deployer: Signer, setup: GovernanceSetup, profile: str = PRODUCTION
) -> Manifest:
    """Deploy governance, registries, the token blueprint and factory, the cash token, the
    settlement contracts (DvP, auction, distributor) and the transparency anchor in one ordered
    batch. `profile` names the timelock profile `setup.timelocks` came from, for the manifest."""
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
    selectors = [selector(sig) for sig in GOVERNED_FUNCTIONS]
    action_types = [int(g.action) for g in GOVERNED_FUNCTIONS.values()]
    property_flags = [g.affects_holder_property for g in GOVERNED_FUNCTIONS.values()]
    delays = {**DEFAULT_TIMELOCKS, **setup.timelocks}
    creations = [
        _creation(
            "Governance",
            ["address[]", "uint256", "bytes4[]", "uint8[]", "bool[]", "uint8[]", "uint256[]"],
            [
                list(setup.officials),
                setup.threshold,
                selectors,
                action_types,
                property_flags,
                [int(a) for a in delays],
                list(delays.values()),
            ],
        ),
        _creation(
            "IdentityRegistry",
            ["address", "address[]", "address", "address"],
            [governance, list(setup.registrars), assets, cash],
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
        timelock_profile=profile,
        timelocks={action.label: seconds for action, seconds in delays.items()},
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
    replies = chain.rpc.batch(
        [("eth_getCode", [c.address, "latest"]) for c in manifest.contracts.values()]
    )
    for (name, contract), reply in zip(manifest.contracts.items(), replies, strict=True):
        if isinstance(reply, RpcError):
            raise reply
        code = bytes.fromhex(reply[2:])
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
