"""The open platform: settings, chain gateway, verified deployment, contracts and signers."""

from __future__ import annotations

import difflib
import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from amanat.chain.abi import ContractInterface, interface
from amanat.chain.client import Chain, Receipt, TxRequest
from amanat.chain.deploy import GovernanceSetup, Manifest, deploy, verify
from amanat.chain.keys import DEV_MNEMONIC, Keyring, dev_account, eth_account_class
from amanat.config import Settings
from amanat.domain.evm import to_checksum_address
from amanat.errors import AmanatError, InvalidInput, OwnKeyRequired
from amanat.services.clock import Clock

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount

    from amanat.chain.client import Signer
    from amanat.chain.hsm import HsmSigner
    from amanat.store.crypto import FieldCipher
    from amanat.store.db import Store

# Development role keys on the embedded chain (account index of the dev mnemonic).
DEV_ROLES = {
    "deployer": 0,
    "official-1": 1,
    "official-2": 2,
    "official-3": 3,
    "registrar": 4,
    "issuer": 5,
    "valuer": 6,
    "reserve-auditor": 7,
}
# The key that anchors the transparency log's tree heads on chain.
PUBLISHER_KEY = "publisher"
# Further officials' development keys (official-4, ...): an embedded deployment may add officials.
DEVELOPMENT_OFFICIAL = re.compile(r"official-[1-9]")
# A new development wallet's name (onboarding, linking): never mistaken for an address.
NEW_KEY_NAME = re.compile(r"[a-z][a-z0-9-]{0,62}")


@dataclass
class Bound:
    """A deployed contract bound to the chain: read with `read`, build transactions with `tx`."""

    chain: Chain
    abi: ContractInterface
    address: str

    def encode(self, function: str, *args: Any) -> bytes:
        return self.abi.function(function).encode(*args)

    def read(self, function: str, *args: Any, block: int | str = "latest") -> Any:
        fn = self.abi.function(function)
        return fn.decode(self.chain.call(self.address, fn.encode(*args), block=block))

    def tx(
        self,
        function: str,
        *args: Any,
        key: str | None = None,
        description: str = "",
        gas: int | None = None,
    ) -> TxRequest:
        return TxRequest(
            self.address,
            self.encode(function, *args),
            gas=gas,
            idempotency_key=key,
            description=description or f"{self.abi.name}.{function}",
        )

    def events(self, receipt: Receipt, name: str) -> list[dict[str, Any]]:
        event = self.abi.events[name]
        found = []
        for log in receipt.logs:
            if log["address"].lower() != self.address.lower():
                continue
            topics = [bytes.fromhex(t[2:]) for t in log["topics"]]
            if topics and topics[0] == event.topic:
                found.append(event.decode(topics, bytes.fromhex(log["data"][2:])))
        return found


@dataclass(frozen=True)
class Prepared:
    """A write that passed its pre-check, built but not signed: the wallet that sends it, the
    transaction, and how its receipt becomes the action's result. The platform signs it with a
    key it holds (`Platform.send`), or the wallet's owner signs it itself (services/client_tx)."""

    sender: str
    request: TxRequest
    finish: Callable[[Receipt], dict[str, Any]]


def read_many(
    calls: Sequence[tuple[Bound, str, tuple[Any, ...]]], block: int | str = "latest"
) -> list[Any]:
    """Several contract reads (contract, function, arguments) at `block` (default the latest),
    in one JSON-RPC batch: one round trip instead of one per read."""
    if not calls:
        return []
    replies = calls[0][0].chain.call_many(
        [(bound.address, bound.encode(fn, *args)) for bound, fn, args in calls], block
    )
    results = []
    for (bound, fn, _args), reply in zip(calls, replies, strict=True):
        if isinstance(reply, AmanatError):
            raise reply
        results.append(bound.abi.function(fn).decode(reply))
    return results


class Platform:
    def __init__(self, settings: Settings, chain: Chain, manifest: Manifest | None) -> None:
        self.settings = settings
        self.chain = chain
        self.clock = Clock(chain)
        self._manifest = manifest
        self.keyring = Keyring(settings.data_dir / "keys")
        self._hsm_signers: dict[str, HsmSigner] = {}
        # Keys their owners brought to this process (`--key FILE`), by name and by address.
        self._provided: dict[str, Signer] = {}
        self._store: Store | None = None
        self._cipher: FieldCipher | None = None

    @classmethod
    def open(cls, settings: Settings, require_deployment: bool = True) -> Platform:
        if settings.embedded:
            chain = Chain.embedded(settings.data_dir)
        else:
            assert settings.rpc_url is not None
            chain = Chain.network(
                settings.rpc_url,
                settings.data_dir,
                batch_size=settings.rpc_batch_size,
                logs_range=settings.logs_range,
            )
        manifest = None
        if require_deployment or settings.manifest_path.exists():
            manifest = Manifest.load(settings.manifest_path)
            verify(chain, manifest)
        return cls(settings, chain, manifest)

    @property
    def store(self) -> Store:
        """The off-chain store, migrated on first use (SQLAlchemy is imported then: a read of the
        chain alone never loads it)."""
        from amanat.store.db import Store

        if self._store is None:
            self._store = Store(self.settings.store_url)
        return self._store

    @property
    def cipher(self) -> FieldCipher:
        """Encrypts personal fields at rest (key from AMANAT_DATA_KEY or the data directory)."""
        from amanat.store.crypto import FieldCipher, load_key

        if self._cipher is None:
            self._cipher = FieldCipher(
                load_key(self.settings.data_dir, create=self.settings.embedded)
            )
        return self._cipher

    @property
    def manifest(self) -> Manifest:
        if self._manifest is None:
            self._manifest = Manifest.load(self.settings.manifest_path)
        return self._manifest

    def set_manifest(self, manifest: Manifest) -> None:
        manifest.save(self.settings.manifest_path)
        self._manifest = manifest

    def deploy_development(self) -> Manifest:
        """Embedded chain: deploy with the development role keys (officials 1-3, 2 approvals,
        registrar, issuer, valuer, reserve auditor, tree-head publisher) and record the manifest."""
        if not self.settings.embedded:
            raise InvalidInput("development keys are for the embedded chain only")
        setup = GovernanceSetup(
            officials=tuple(self.address_of(f"official-{i}") for i in (1, 2, 3)),
            threshold=2,
            registrars=(self.address_of("registrar"),),
            issuers=(self.address_of("issuer"),),
            valuers=(self.address_of("valuer"),),
            timelocks={},
            reserve_auditors=(self.address_of("reserve-auditor"),),
            publishers=(self.address_of(PUBLISHER_KEY),),
        )
        self.set_manifest(deploy(self.chain, self.signer("deployer"), setup))
        return self.manifest

    def send(self, signer: Signer, prepared: Prepared) -> dict[str, Any]:
        """Sign a prepared write with a key the platform holds, send and confirm it, and return
        the action's result."""
        (receipt,) = self.chain.transact(signer, [prepared.request])
        return prepared.finish(receipt)

    def contract(self, name: str) -> Bound:
        return Bound(self.chain, interface(name), self.manifest.address(name))

    def token(self, address: str) -> Bound:
        return Bound(self.chain, interface("AssetToken"), to_checksum_address(address))

    def decoded_logs(
        self,
        contract: Bound,
        names: Sequence[str],
        to_block: int | str = "latest",
        first_indexed: Sequence[int] = (),
        from_block: int | None = None,
    ) -> list[dict[str, Any]]:
        """The contract's events of the given names since deployment (or since `from_block`, if
        later), decoded, oldest first, each with its event name, block and transaction; with
        `first_indexed`, only those whose first indexed argument (an id) is one of these numbers
        (filtered by the node)."""
        topics = {contract.abi.events[n].topic: contract.abi.events[n] for n in names}
        filters: list[Any] = [["0x" + t.hex() for t in topics]]
        if first_indexed:
            filters.append(["0x" + n.to_bytes(32, "big").hex() for n in first_indexed])
        logs = self.chain.get_logs(
            [contract.address],
            filters,
            from_block=max(self.manifest.deployed_block, from_block or 0),
            to_block=to_block,
        )
        out = []
        for log in logs:
            raw_topics = [bytes.fromhex(t[2:]) for t in log["topics"]]
            event = topics[raw_topics[0]]
            out.append(
                {
                    "event": event.name,
                    "block": int(log["blockNumber"], 16),
                    "tx": log["transactionHash"],
                    **event.decode(raw_topics, bytes.fromhex(log["data"][2:])),
                }
            )
        return out

    def provide_key(self, name: str, key: Signer) -> None:
        """A key its owner brought to this process (its own Keystore V3 file, `--key FILE`): it
        signs for `name` and for its address, and is never written to the data directory."""
        self._provided[name] = key
        self._provided[to_checksum_address(key.address)] = key

    def signer(self, name: str, new: bool = False) -> Signer:
        """A named key: one its owner brought (`provide_key`), one held in the hardware token
        (`[keys] name = "hsm"` in amanat.toml), a Keystore V3 file, or on the embedded chain a
        development key.

        A development key resolves only for a configured role or a registered name (an
        institution's wallet or a user's key), so a typo never becomes a wallet; `new` names a
        key that is being registered now (an institution's wallet at onboarding). On a network
        deployment a key the server holds is refused for an institution's wallet or an official
        (`refuse_participant_key`)."""
        if name in self._provided:
            return self._provided[name]
        held: Signer | None = None
        if name in self.settings.hsm_keys:
            held = self.hsm_signer(name)
        elif name in self.keyring.names():
            held = self.keyring.unlock(name)
        if held is not None:
            if not self.settings.embedded:
                self.refuse_participant_key(name, to_checksum_address(held.address))
            return held
        if not self.settings.embedded:
            raise InvalidInput(
                f"no key named {name!r} in {self.keyring.directory}: create it with "
                f"`amanat keys new {name}`"
            )
        if new:
            _check_new_key_name(name)
        elif name in DEV_ROLES:
            return dev_account(DEV_ROLES[name])
        elif not self._registered_name(name):
            raise InvalidInput(_unknown_name(name, self.known_names()))
        return dev_key_for(name)

    def refuse_participant_key(self, name: str, address: str) -> None:
        """On a network deployment the server signs only with the platform's own operational
        keys (deployer, registrar, issuer, valuer, publisher, paying agent): a key it holds for
        an institution's registered wallet or for a current official is refused.

        The server is the data directory whose store holds the platform's users or
        institutions; an official's own machine (its own data directory, its own key file or
        token) holds neither, and signs with its own key."""
        from sqlalchemy import select

        from amanat.store.models import User, Wallet

        with self.store.session() as session:
            institution = session.scalar(select(Wallet.address).where(Wallet.address == address))
            hosts_platform = (
                institution is not None
                or session.scalar(select(User.id).limit(1)) is not None
                or session.scalar(select(Wallet.address).limit(1)) is not None
            )
        if institution is not None:
            raise OwnKeyRequired(
                f"on a network deployment the server holds only the platform's operational keys: "
                f"key {name!r} ({address}) is an institution's wallet, and an institution signs "
                "its own transactions (POST /transactions, or `amanat --api URL --as USER --key "
                "FILE ...`); remove it from the server",
                key=name,
                address=address,
            )
        deployed = self._manifest is not None or self.settings.manifest_path.exists()
        if hosts_platform and deployed and self.contract("Governance").read("isOfficial", address):
            raise OwnKeyRequired(
                f"on a network deployment the server holds only the platform's operational keys: "
                f"key {name!r} ({address}) is an official's, and an official signs on its own "
                "machine (`amanat proposal approve ID --key FILE [--api URL]`, or `--key FILE` on "
                "any governance command); remove it from the server",
                key=name,
                address=address,
            )

    def hsm_signer(self, label: str) -> HsmSigner:
        """The token's key labelled `label`, opened once per process."""
        from amanat.chain.hsm import HsmSigner, token_config

        if label not in self._hsm_signers:
            self._hsm_signers[label] = HsmSigner(token_config(self.settings), label)
        return self._hsm_signers[label]

    def address_of(self, who: str, new: bool = False) -> str:
        """An address given as 0x… or as a key name (see `signer` for which names resolve)."""
        if who.startswith("0x"):
            try:
                return to_checksum_address(who)
            except ValueError:
                raise InvalidInput(f"{who!r} is not a valid address") from None
        return to_checksum_address(self.signer(who, new=new).address)

    def known_names(self) -> list[str]:
        """Every name a key resolves by: configured roles, key files and registered names."""
        from sqlalchemy import select

        from amanat.store.models import User, Wallet

        with self.store.session() as session:
            registered = {
                *session.scalars(select(Wallet.key_name).where(Wallet.key_name.is_not(None))),
                *session.scalars(select(User.key_name).where(User.key_name.is_not(None))),
            }
        configured = (
            set(DEV_ROLES) | {PUBLISHER_KEY, self.settings.publisher_key}
            if self.settings.embedded
            else set()
        )
        configured |= self.settings.hsm_keys
        return sorted({*configured, *self.keyring.names(), *(n for n in registered if n)})

    def _registered_name(self, name: str) -> bool:
        if name in (PUBLISHER_KEY, self.settings.publisher_key) or DEVELOPMENT_OFFICIAL.fullmatch(
            name
        ):
            return True
        # one statement on the autocommit engine: every write signed for a user asks this
        with self.store.read_engine.connect() as connection:
            return bool(connection.scalar(_registered_name_query(), {"name": name}))


@cache
def _registered_name_query() -> Any:
    """Is a key name a wallet's or a user's? Built once, on first use (SQLAlchemy is imported
    lazily here: the CLI's start-up)."""
    from sqlalchemy import String, bindparam, exists, or_, select

    from amanat.store.models import User, Wallet

    name = bindparam("name", type_=String)
    return select(
        or_(exists().where(Wallet.key_name == name), exists().where(User.key_name == name))
    )


def _check_new_key_name(name: str) -> None:
    """A new development key's name: lower-case words, never an address or a role's name."""
    if not NEW_KEY_NAME.fullmatch(name):
        raise InvalidInput(
            f"{name!r} is neither a 0x address nor a new key name (lower-case "
            "letters, digits and '-', starting with a letter)"
        )
    if name in DEV_ROLES or name == PUBLISHER_KEY or DEVELOPMENT_OFFICIAL.fullmatch(name):
        raise InvalidInput(f"{name!r} is a configured role's key, not an institution's wallet")


def _unknown_name(name: str, known: list[str]) -> str:
    """The refusal for a name that is neither a role nor registered, with the closest names."""
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.5) or difflib.get_close_matches(
        name.lower(), [k.lower() for k in known], n=3, cutoff=0.5
    )
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    return (
        f"no institution, role or key named {name!r}: name a registered institution's wallet, a "
        f"configured role or a key in the data directory{hint}"
    )


@cache
def dev_key_for(name: str) -> LocalAccount:
    """A development key derived from the dev mnemonic by name (embedded chain only)."""
    index = int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "big") % 2**31
    return eth_account_class().from_mnemonic(DEV_MNEMONIC, account_path=f"m/44'/60'/0'/1/{index}")
