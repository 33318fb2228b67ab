"""Governed calls in words: what a proposal will do, written for the approvers who decide it.

The one decoder of every face (CLI, API, console). The call data of a Governance proposal (as
its ProposalCreated event records it; the contract stores only its hash) is decoded with the ABI
of the contract it targets, for the functions of domain/governance's table of governed
functions, and each argument is written as an approver reads it: institutions, officials and
contracts by name, token amounts in units of the token's symbol, cash in PKR, yields in per
cent, dates in UTC, hashes with the name of the stored document they identify.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from amanat.chain.abi import Function, checksum, interface
from amanat.chain.artifacts import CONTRACT_NAMES
from amanat.chain.keys import DEV_ADDRESSES
from amanat.domain.assets import AssetStatus
from amanat.domain.auction import from_micro
from amanat.domain.distribution import KINDS as DISTRIBUTION_KINDS
from amanat.domain.governance import GOVERNED_FUNCTIONS, ActionType
from amanat.domain.identity import InvestorCategory
from amanat.domain.money import format_pkr
from amanat.domain.rules import TokenRules
from amanat.errors import AmanatError
from amanat.services import tokens
from amanat.services.platform import DEV_ROLES, Platform, read_many

ZERO_HASH = b"\x00" * 32
# Integer arguments that are cash (minor units of PKR) on any contract, and on the CashToken.
CASH_ARGUMENTS = {"payments", "total"}
CASH_CONTRACTS = {"CashToken"}
# Integer arguments that are quantities of the target token.
UNIT_ARGUMENTS = {"amount", "amounts", "units", "holdingCap", "minimumHolding", "maxUnits"}
DATE_ARGUMENTS = {"lockupUntil", "kycExpiry"}
# A document the CLI kept in the data directory: stored by its hash alone, without a file name.
UNNAMED = "(stored without a name)"


@dataclass(frozen=True)
class Argument:
    """An argument in words: `text` in full (names with their addresses), `short` for lists."""

    name: str
    text: str
    short: str


@dataclass(frozen=True)
class DecodedCall:
    """A governed call: the contract it targets, the function and its arguments in words."""

    contract: str
    function: str
    action: str
    affects_holder_property: bool
    arguments: tuple[Argument, ...]
    # What a role change does, in a sentence ('appoint official-4 (0x…) as official').
    meaning: str | None = None

    @property
    def summary(self) -> str:
        if self.meaning is not None:
            return f"{self.contract}: {self.meaning}"
        words = "; ".join(f"{a.name} {a.short}" for a in self.arguments)
        name = self.function.split("(", 1)[0]
        return f"{self.contract}: {name}" + (f" ({words})" if words else "")


# Governed functions that appoint (true) or remove (false) the holder of a role: (address, bool).
ROLE_SETTERS = {
    "setOfficial": "official",
    "setPublisher": "tree-head publisher",
    "setRegistrar": "registrar",
    "setIssuer": "issuer",
    "setValuer": "valuer",
    "setReserveAuditor": "reserve auditor",
    "setAgent": "settlement agent",
    "setSettlementAgent": "settlement agent",
}


def utc(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def duration(seconds: int) -> str:
    """Seconds as an approver reads a wait: '1 h 0 min', '59 min 12 s', '2 d 0 h'."""
    seconds = max(seconds, 0)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {secs} s"
    return f"{secs} s"


class Directory:
    """Who or what an address is, and which document a hash names, read once per page or
    command: institutions' wallets, users' and officials' keys, contracts and tokens."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.labels: dict[str, str] = {}
        self.symbols: dict[str, str] = {}
        # Keys by name, as Platform.signer resolves them, without unlocking any: the hardware
        # token's (when it can be opened here), key files (they name their address), and a
        # development role's well-known address only while the role has no key of either kind:
        # a development address is anyone's, so it never bears the name of a role held elsewhere.
        keyring_names = platform.keyring.names()
        held = set(platform.settings.hsm_keys) | set(keyring_names)
        keys = {name: checksum(platform.keyring.address(name)) for name in keyring_names}
        for label in sorted(platform.settings.hsm_keys):
            try:
                keys[label] = checksum(platform.hsm_signer(label).address)
            except (AmanatError, ImportError, OSError):
                continue  # the token cannot be opened here: its key stays unnamed
        if platform.settings.embedded:
            for role, index in DEV_ROLES.items():
                if role not in held:
                    keys[role] = DEV_ADDRESSES[index]
        self.labels.update({address: name for name, address in keys.items()})
        # the store is imported here: a read that decodes no proposal never loads it
        from sqlalchemy import select

        from amanat.store.models import Institution, User, Wallet

        with platform.store.session() as session:
            users = list(session.execute(select(User.username, User.key_name)))
            wallets = list(
                session.execute(
                    select(Wallet.address, Institution.legal_name).join(
                        Institution, Wallet.institution_id == Institution.id
                    )
                )
            )
        for username, key_name in users:
            if key_name in keys:
                self.labels[keys[key_name]] = username
        for address, legal_name in wallets:
            self.labels[checksum(address)] = legal_name
        for name, deployed in platform.manifest.contracts.items():
            self.labels[checksum(deployed.address)] = name
        all_tokens = tokens.all_tokens(platform)
        symbols = read_many([(t, "symbol", ()) for t in all_tokens])
        for token, symbol in zip(all_tokens, symbols, strict=True):
            self.symbols[token.address] = symbol
            self.labels[token.address] = symbol
        self._documents: dict[str, str] = {}

    @cached_property
    def ambiguous(self) -> set[str]:
        """The names more than one address bears."""
        return {label for label, count in Counter(self.labels.values()).items() if count > 1}

    def who(self, address: str) -> str:
        """'Indus National Bank (0x…)', or the address alone when nobody here knows it."""
        address = checksum(address)
        label = self.labels.get(address)
        return f"{label} ({address})" if label else address

    def name(self, address: str) -> str:
        """The name alone when known and borne by this address alone, else with the address
        (two institutions of one legal name, an institution's several wallets)."""
        address = checksum(address)
        label = self.labels.get(address)
        if label is None:
            return address
        return f"{label} ({address})" if label in self.ambiguous else label

    def load_documents(self, hashes: list[bytes]) -> None:
        """Learn the names of the stored documents among these hashes (one query)."""
        wanted = {"0x" + h.hex() for h in hashes if h != ZERO_HASH} - set(self._documents)
        if not wanted:
            return
        from sqlalchemy import select

        from amanat.store.models import Document

        with self.platform.store.session() as session:
            found = session.execute(
                select(Document.sha256, Document.filename).where(Document.sha256.in_(wanted))
            )
            self._documents.update({sha: filename for sha, filename in found})
        folder = self.platform.settings.data_dir / "documents"
        for digest in wanted - set(self._documents):
            if (folder / digest[2:]).is_file():
                self._documents[digest] = UNNAMED

    def document(self, digest: bytes) -> str | None:
        return self._documents.get("0x" + digest.hex())

    def hash_text(self, digest: bytes) -> str:
        if digest == ZERO_HASH:
            return "none"
        text = "0x" + digest.hex()
        filename = self.document(digest)
        if filename is None:
            return text
        return f"{text} (document {filename!r})" if filename != UNNAMED else f"{text} (stored)"


def _contract_name(platform: Platform, directory: Directory, target: str) -> tuple[str, str]:
    """The target's ABI name and its name in words ('AssetToken', 'token PKTB3M')."""
    target = checksum(target)
    for name, deployed in platform.manifest.contracts.items():
        if checksum(deployed.address) == target:
            return name, name
    symbol = directory.symbols.get(target)
    return "AssetToken", f"token {symbol}" if symbol else f"contract {target}"


def _function(abi_name: str, selector: bytes) -> tuple[str, Function] | None:
    """The governed function with this selector and the ABI it is on: the target's own ABI
    first, then any."""
    names = [abi_name, *(n for n in CONTRACT_NAMES if n != abi_name)]
    for name in names:
        for function in interface(name).functions.values():
            if function.selector == selector and function.signature in GOVERNED_FUNCTIONS:
                return name, function
    return None


def decode(platform: Platform, directory: Directory, target: str, call_data: bytes) -> DecodedCall:
    """The governed call `call_data` to `target`, in words."""
    abi_name, contract = _contract_name(platform, directory, target)
    found = _function(abi_name, call_data[:4])
    if found is None:
        raw = "0x" + call_data.hex()
        return DecodedCall(contract, raw[:10], "unknown", False, (Argument("call data", raw, raw),))
    if found[0] != abi_name:
        # a function of another contract: the target may do anything under that selector
        contract = f"{contract} (NOT a {abi_name} function: decoded as {found[0]}'s)"
    abi_name, function = found
    governed = GOVERNED_FUNCTIONS[function.signature]
    values = function.decode_call(call_data)
    directory.load_documents([v for v in values.values() if isinstance(v, bytes) and len(v) == 32])
    symbol = directory.symbols.get(checksum(target))
    arguments = tuple(
        Argument(
            name,
            _words(directory, abi_name, symbol, name, abi_type, values[name]),
            _words(directory, abi_name, symbol, name, abi_type, values[name], short=True),
        )
        for name, abi_type in zip(function.input_names, function.inputs, strict=True)
    )
    role = ROLE_SETTERS.get(function.name)
    meaning = None
    if role is not None and function.inputs == ("address", "bool"):
        holder, enabled = (values[name] for name in function.input_names)
        meaning = f"{'appoint' if enabled else 'remove'} {directory.who(holder)} as {role}"
    return DecodedCall(
        contract,
        function.signature,
        governed.action.label,
        governed.affects_holder_property,
        arguments,
        meaning,
    )


def _words(
    directory: Directory,
    contract: str,
    symbol: str | None,
    name: str,
    abi_type: str,
    value: Any,
    short: bool = False,
) -> str:
    if abi_type.endswith("[]"):
        items = [_words(directory, contract, symbol, name, abi_type[:-2], v, short) for v in value]
        return ", ".join(items) if items else "(none)"
    if abi_type == "address":
        return directory.name(value) if short else directory.who(value)
    if abi_type == "bool":
        return "yes" if value else "no"
    if abi_type == "bytes32":
        return directory.hash_text(value)
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if abi_type == "string":
        return repr(value)
    return _integer_words(contract, symbol, name, value)


def _integer_words(contract: str, symbol: str | None, name: str, value: int) -> str:
    if contract == "TokenFactory" and name == "rules":
        rules = TokenRules.from_words(value, 0)
        categories = ", ".join(sorted(c.name.lower() for c in rules.eligible_categories))
        return (
            f"eligible {categories}; foreign cap {rules.foreign_cap_bps / 100:g}%; "
            f"at most {rules.max_holders or 'any number of'} holders; lock-up "
            f"{utc(rules.lockup_until) if rules.lockup_until else 'none'}; countries "
            f"{rules.country_mode} (domestic {rules.domestic_country})"
        )
    if contract == "TokenFactory" and name == "limits":
        rules = TokenRules.from_words(0, value)
        return (
            f"holding cap {f'{rules.holding_cap:,} units' if rules.holding_cap else 'none'}; "
            f"minimum holding {rules.minimum_holding:,} units"
        )
    if contract == "Distributor" and name == "kind":
        return next((k for k, v in DISTRIBUTION_KINDS.items() if v == value), str(value))
    if "yield" in name.lower():
        return f"{from_micro(value) * 100:f}".rstrip("0").rstrip(".") + "%"
    if name in DATE_ARGUMENTS:
        return utc(value) if value else "none"
    if name.endswith("Seconds"):
        return duration(value)
    if name == "status" and contract == "AssetRegistry":
        return AssetStatus(value).name.lower()
    if name == "category":
        return InvestorCategory(value).name.lower().replace("_", " ")
    if name == "actionType":
        return ActionType(value).label
    if name == "eligibleCategories":
        return ", ".join(
            c.name.lower().replace("_", " ") for c in InvestorCategory if value >> c.value & 1
        )
    if name.endswith("Bps"):
        return f"{value / 100:g}%"
    if name in CASH_ARGUMENTS or (contract in CASH_CONTRACTS and name in UNIT_ARGUMENTS):
        return format_pkr(value)
    if name in UNIT_ARGUMENTS:
        return f"{value:,} {symbol} units" if symbol else f"{value:,} units"
    return str(value)
