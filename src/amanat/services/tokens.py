"""Token use cases: tokenize, pre-check and transfer, governed enforcement calls, and reads."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from amanat.chain.client import Receipt
from amanat.domain.evm import to_checksum_address
from amanat.domain.identity import country_label
from amanat.domain.restrictions import Restriction
from amanat.domain.rules import BPS, MATURITY_SHIFT, MAX_MATURITY, TokenRules
from amanat.errors import InvalidInput, NotFound, RuleViolation
from amanat.services import identities
from amanat.services.platform import Bound, Platform, Prepared

MAX_LISTED_COUNTRIES = 64


@dataclass(frozen=True)
class Verdict:
    """The outcome of a pre-check: allowed, or the rule that refuses and why, with values."""

    code: Restriction
    detail: str

    @property
    def allowed(self) -> bool:
        return self.code is Restriction.OK

    def as_dict(self) -> dict[str, Any]:
        return {
            "allowed": self.allowed,
            "code": int(self.code),
            "rule": self.code.rule,
            "reason": self.code.reason,
            "detail": self.detail,
        }

    def refuse(self) -> RuleViolation:
        return RuleViolation(
            self.code.rule, f"{self.code.reason}: {self.detail}", code=int(self.code)
        )


# --------------------------------------------------------------- resolving


def token_for_asset(platform: Platform, asset_id: int) -> Bound:
    address = platform.contract("TokenFactory").read("tokenOf", asset_id)
    if int(address, 16) == 0:
        raise NotFound(f"asset {asset_id} has no token yet", asset=asset_id)
    return platform.token(address)


def resolve(platform: Platform, ref: str) -> Bound:
    """A token by asset id ('2'), symbol ('PKTB3M') or address."""
    if ref.startswith("0x"):
        token = platform.token(ref)
        known = {t.address.lower() for t in all_tokens(platform)}
        if token.address.lower() not in known:
            raise NotFound(f"{ref} is not an Amanat token of this deployment")
        return token
    if ref.isdigit():
        return token_for_asset(platform, int(ref))
    for token in all_tokens(platform):
        if token.read("symbol") == ref:
            return token
    raise NotFound(f"no token with symbol {ref!r}")


def all_tokens(platform: Platform) -> list[Bound]:
    factory = platform.contract("TokenFactory")
    count = platform.contract("AssetRegistry").read("assetCount")
    tokens = []
    for asset_id in range(1, count + 1):
        address = factory.read("tokenOf", asset_id)
        if int(address, 16) != 0:
            tokens.append(platform.token(address))
    return tokens


def tokenize_args(
    asset_id: int, name: str, symbol: str, decimals: int, rules: TokenRules, maturity: int = 0
) -> list[Any]:
    """Arguments of TokenFactory.createToken for a governance proposal. `maturity` (unix
    seconds, 0 = no fixed term) is kept by the token for good: markMatured is refused before it."""
    if not 0 <= maturity <= MAX_MATURITY:
        raise InvalidInput(f"maturity {maturity} is not a unix time in 0..{MAX_MATURITY}")
    if not 0 <= decimals <= 18:
        raise InvalidInput(f"decimals {decimals} outside 0..18")
    if not 1 <= len(symbol) <= 32 or not 1 <= len(name) <= 64:
        raise InvalidInput("token name must be 1..64 and symbol 1..32 characters")
    if len(rules.countries) > MAX_LISTED_COUNTRIES:
        raise InvalidInput(f"at most {MAX_LISTED_COUNTRIES} listed countries")
    return [
        asset_id,
        name,
        symbol,
        decimals,
        rules.rules_word() | maturity << MATURITY_SHIFT,
        rules.limits_word(),
        list(rules.countries),
    ]


# --------------------------------------------------------------- pre-checks


def rules_of(token: Bound) -> TokenRules:
    listed = _listed_countries(token)
    return TokenRules.from_chain(
        token.read("rules"),
        token.read("holdingLimits"),
        tuple(sorted(listed)),
        token.read("paused"),
    )


def _listed_countries(token: Bound) -> set[int]:
    event = token.abi.events["CountriesListed"]
    listed: set[int] = set()
    for log in token.chain.get_logs([token.address], ["0x" + event.topic.hex()]):
        decoded = event.decode(
            [bytes.fromhex(t[2:]) for t in log["topics"]], bytes.fromhex(log["data"][2:])
        )
        if decoded["listed"]:
            listed.update(decoded["countries"])
        else:
            listed.difference_update(decoded["countries"])
    return listed


def _fmt_time(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _pct(numerator: int, denominator: int) -> str:
    if denominator == 0:
        return "n/a"
    return f"{numerator * 10000 // denominator / 100:.2f}%"


def explain(
    platform: Platform,
    token: Bound,
    code: Restriction,
    sender: str | None,
    receiver: str,
    amount: int,
    counterparty_detail: bool = True,
) -> str:
    """The values behind a restriction, read from the chain.

    Without `counterparty_detail` (an institution asking) the explanation names the rule, the
    token's own terms and the asker's own figures, never the receiver's name, holding, category,
    country or KYC, nor figures that add up other parties' holdings."""
    symbol = token.read("symbol")
    if code is Restriction.OK:
        return f"{amount} {symbol} may move"
    rules = rules_of(token)
    if not counterparty_detail:
        redacted = _without_counterparty(rules, code, symbol, receiver)
        if redacted is not None:
            return redacted
    to = identities.wallet_record(platform, receiver)
    to_name = identities.name_of(platform, receiver)
    if code is Restriction.PAUSED:
        return f"{symbol} is paused by governance"
    if code in (Restriction.SENDER_NOT_VERIFIED, Restriction.RECEIVER_NOT_VERIFIED):
        who = sender if code is Restriction.SENDER_NOT_VERIFIED and sender else receiver
        record = identities.wallet_record(platform, who)
        if not record.registered:
            return f"wallet {who} is not linked to any registered institution"
        return (
            f"KYC of {identities.name_of(platform, who)} expired at {_fmt_time(record.kyc_expiry)}"
        )
    if code in (Restriction.SENDER_FROZEN, Restriction.RECEIVER_FROZEN):
        who = sender if code is Restriction.SENDER_FROZEN and sender else receiver
        return f"wallet {identities.name_of(platform, who)} ({who}) is frozen on {symbol}"
    if code in (Restriction.INSUFFICIENT_BALANCE, Restriction.TOKENS_FROZEN):
        assert sender is not None
        balance = token.read("balanceOf", sender)
        frozen = token.read("getFrozenTokens", sender)
        locked = token.read("settlementLocked", sender)
        return (
            f"balance {balance}, frozen {frozen}, locked for settlement {locked}, "
            f"available {balance - frozen - locked}, requested {amount}"
        )
    if code is Restriction.CATEGORY_NOT_ELIGIBLE:
        return f"{to_name} is a {to.category.label}; {symbol} admits only: {_eligible(rules)}"
    if code is Restriction.COUNTRY_NOT_ALLOWED:
        return f"{to_name} is in {country_label(to.country)}; {symbol} {_country_list(rules)}"
    if code is Restriction.LOCKED_UP:
        return f"{symbol} is locked up until {_fmt_time(rules.lockup_until)}"
    if code is Restriction.HOLDING_CAP:
        held = token.read("identityHolding", to.identity_number)
        return f"{to_name} would hold {held + amount} {symbol}, cap {rules.holding_cap} per institution"
    if code is Restriction.MINIMUM_HOLDING:
        return f"every holding of {symbol} must be 0 or at least {rules.minimum_holding} units"
    if code is Restriction.MAX_HOLDERS:
        return f"{symbol} has {token.read('holderCount')} holders, maximum {rules.max_holders}"
    if code is Restriction.FOREIGN_CAP:
        foreign = token.read("foreignHeld") + amount
        supply = token.read("totalSupply") + (amount if sender is None else 0)
        return (
            f"foreign holdings would be {foreign} of {supply} {symbol} ({_pct(foreign, supply)}), "
            f"cap {_pct(rules.foreign_cap_bps, BPS)}"
        )
    if code is Restriction.AUTHORISATION_CAP:
        registry = platform.contract("AssetRegistry")
        asset_id = token.read("assetId")
        asset = registry.read("getAsset", asset_id)
        supply = token.read("totalSupply")
        _, cap = registry.read("mintingTerms", asset_id)
        if cap < asset[8]:
            return (
                f"supply {supply} + {amount} exceeds the attested reserve of {cap} units "
                f"(authorised: {asset[8]})"
            )
        return f"supply {supply} + {amount} exceeds the {asset[8]} units authorised by {asset[6]}"
    if code is Restriction.ASSET_NOT_TOKENIZED:
        return f"asset {token.read('assetId')} is no longer in tokenized status"
    if code is Restriction.MATURED:
        return f"{symbol} has matured: its units can only be redeemed"
    return code.reason


def _eligible(rules: TokenRules) -> str:
    """The investor categories a token admits, for a refusal."""
    return ", ".join(sorted(c.label for c in rules.eligible_categories))


def _country_list(rules: TokenRules) -> str:
    """A token's country allow- or deny-list, for a refusal: 'allow-list: PK (586)'."""
    listed = ", ".join(country_label(c) for c in rules.countries) or "none"
    kind = "allow-list" if rules.country_mode == "allow" else "deny-list"
    return f"{kind}: {listed}"


def _without_counterparty(
    rules: TokenRules, code: Restriction, symbol: str, receiver: str
) -> str | None:
    """The explanation of a refusal caused by another party, told without that party's data;
    None when the refusal concerns only the asker or the token (told in full)."""
    if code is Restriction.RECEIVER_NOT_VERIFIED:
        return f"the receiving wallet {receiver} is not verified for {symbol}"
    if code is Restriction.RECEIVER_FROZEN:
        return f"the receiving wallet {receiver} is frozen on {symbol}"
    if code is Restriction.CATEGORY_NOT_ELIGIBLE:
        return (
            f"the receiver's investor category is not eligible; {symbol} admits only: "
            f"{_eligible(rules)}"
        )
    if code is Restriction.COUNTRY_NOT_ALLOWED:
        return f"the receiver's country is not allowed; {symbol} {_country_list(rules)}"
    if code is Restriction.HOLDING_CAP:
        return (
            f"the receiver would hold more than the cap of {rules.holding_cap} {symbol} "
            "per institution"
        )
    if code is Restriction.MAX_HOLDERS:
        return f"{symbol} admits at most {rules.max_holders} holders and has reached it"
    if code is Restriction.FOREIGN_CAP:
        return (
            f"foreign holdings of {symbol} would exceed the cap of "
            f"{_pct(rules.foreign_cap_bps, BPS)} of its supply"
        )
    return None


def precheck(
    platform: Platform,
    token: Bound,
    sender: str,
    receiver: str,
    amount: int,
    counterparty_detail: bool = True,
) -> Verdict:
    """Would this transfer pass every rule; `counterparty_detail` as in `explain`."""
    if amount <= 0:
        raise InvalidInput(f"amount must be positive, got {amount}")
    code = Restriction(token.read("detectTransferRestriction", sender, receiver, amount))
    return Verdict(
        code, explain(platform, token, code, sender, receiver, amount, counterparty_detail)
    )


def mint_precheck(platform: Platform, token: Bound, receiver: str, amount: int) -> Verdict:
    if amount <= 0:
        raise InvalidInput(f"amount must be positive, got {amount}")
    code = Restriction(token.read("detectMintRestriction", receiver, amount))
    return Verdict(code, explain(platform, token, code, None, receiver, amount))


def eligibility_precheck(platform: Platform, token: Bound, investor: str) -> Verdict:
    """Whether `investor` may hold the token at all (category, country, verified, not frozen)."""
    code = Restriction(token.read("detectEligibility", investor))
    return Verdict(code, explain(platform, token, code, None, investor, 0))


def prepare_transfer(
    platform: Platform,
    sender: str,
    token: Bound,
    to: str,
    amount: int,
    idempotency_key: str | None = None,
    counterparty_detail: bool = True,
) -> Prepared:
    """An ordinary transfer from wallet `sender` to wallet `to`, refused before it is built if a
    rule forbids it (told with or without counterparty detail, as in `explain`)."""
    if not platform.chain.seen(idempotency_key):  # a replay returns the first transaction
        verdict = precheck(platform, token, sender, to, amount, counterparty_detail)
        if not verdict.allowed:
            raise verdict.refuse()

    def finish(receipt: Receipt) -> dict[str, Any]:
        return {
            "tx": receipt.tx_hash,
            "block": receipt.block_number,
            "gas_used": receipt.gas_used,
            "token": token.address,
            "symbol": token.read("symbol"),
            "from": sender,
            "to": to,
            "amount": amount,
        }

    request = token.tx(
        "transfer",
        to,
        amount,
        key=idempotency_key,
        description="transfer",
        gas=TRANSFER_GAS_LIMIT,  # the pre-check's eth_call stands; no estimate needed
    )
    return Prepared(sender, request, finish)


def transfer(
    platform: Platform,
    holder: str,
    token: Bound,
    receiver: str,
    amount: int,
    idempotency_key: str | None = None,
    counterparty_detail: bool = True,
) -> dict[str, Any]:
    """An ordinary transfer by the holder's own key (see `prepare_transfer`)."""
    signer = platform.signer(holder)
    sender = to_checksum_address(signer.address)
    to = platform.address_of(receiver)
    return platform.send(
        signer,
        prepare_transfer(platform, sender, token, to, amount, idempotency_key, counterparty_detail),
    )


def prepare_approve(
    platform: Platform,
    owner: str,
    token: Bound,
    spender: str,
    amount: int,
    idempotency_key: str | None = None,
) -> Prepared:
    """ERC-20 approve: `spender` may move up to `amount` of the owner's units by transferFrom
    (each such transfer is pre-checked against every rule as a transfer is)."""
    if amount < 0:
        raise InvalidInput(f"an allowance cannot be negative, got {amount}")
    if spender == owner:
        raise InvalidInput(f"the spender {spender} is the owner's own wallet")

    def finish(receipt: Receipt) -> dict[str, Any]:
        return {
            "tx": receipt.tx_hash,
            "block": receipt.block_number,
            "gas_used": receipt.gas_used,
            "token": token.address,
            "symbol": token.read("symbol"),
            "owner": owner,
            "spender": spender,
            "allowance": token.read("allowance", owner, spender),
        }

    request = token.tx("approve", spender, amount, key=idempotency_key, description="approve")
    return Prepared(owner, request, finish)


def prepare_transfer_from(
    platform: Platform,
    spender: str,
    token: Bound,
    owner: str,
    to: str,
    amount: int,
    idempotency_key: str | None = None,
    counterparty_detail: bool = True,
) -> Prepared:
    """ERC-20 transferFrom by `spender` out of `owner`'s allowance: refused if the allowance is
    short, then under the same rules and with the same refusal as a transfer by the owner; an
    institution spending another's units (no `counterparty_detail`) is told the rule on the
    owner's side, never the owner's figures, name or KYC."""
    if not platform.chain.seen(idempotency_key):
        allowed = token.read("allowance", owner, spender)
        if amount > allowed:
            raise RuleViolation(
                "insufficient-allowance",
                f"{spender} may move {allowed} of {owner}'s units, requested {amount}",
                allowance=allowed,
                amount=amount,
            )
        if not counterparty_detail:
            code = Restriction(token.read("detectTransferRestriction", owner, to, amount))
            if code in OWNER_SIDE:
                raise Verdict(
                    code, f"on the owner's side ({owner}); its figures are not shown to a spender"
                ).refuse()
    prepared = prepare_transfer(
        platform, owner, token, to, amount, idempotency_key, counterparty_detail
    )
    request = token.tx(
        "transferFrom", owner, to, amount, key=idempotency_key, description="transferFrom"
    )

    def finish(receipt: Receipt) -> dict[str, Any]:
        return {**prepared.finish(receipt), "spender": spender}

    return Prepared(spender, request, finish)


# Refusals that concern the wallet units move out of (for transferFrom: the owner, not the asker).
OWNER_SIDE = frozenset(
    {
        Restriction.SENDER_NOT_VERIFIED,
        Restriction.SENDER_FROZEN,
        Restriction.INSUFFICIENT_BALANCE,
        Restriction.TOKENS_FROZEN,
        Restriction.LOCKED_UP,
        Restriction.MINIMUM_HOLDING,
    }
)

# An ordinary transfer with every rule active costs at most ~110,000 gas (new holder); a fixed
# ceiling spares one estimate per transfer in batches. Gas is free on a permissioned chain.
TRANSFER_GAS_LIMIT = 250_000


def transfer_batch(
    platform: Platform, transfers: list[tuple[str, Bound, str, int]]
) -> list[dict[str, Any]]:
    """Many ordinary transfers (holder key, token, receiver, amount) pre-checked in one round
    trip, journaled in one synced write, mined together and confirmed. Returns one result per
    transfer; a refused one carries its rule and reason and is not sent."""
    signers = [platform.signer(holder) for holder, _, _, _ in transfers]
    receivers = [platform.address_of(receiver) for _, _, receiver, _ in transfers]
    checks = platform.chain.rpc.batch(
        [
            (
                "eth_call",
                [
                    {
                        "to": token.address,
                        "data": "0x"
                        + token.encode(
                            "detectTransferRestriction", signer.address, receiver, amount
                        ).hex(),
                    },
                    "latest",
                ],
            )
            for signer, receiver, (_, token, _, amount) in zip(
                signers, receivers, transfers, strict=True
            )
        ]
    )
    results: list[dict[str, Any]] = []
    items = []
    for signer, receiver, (_, token, _, amount), check in zip(
        signers, receivers, transfers, checks, strict=True
    ):
        code = Restriction(int(check, 16)) if isinstance(check, str) else None
        result: dict[str, Any] = {"from": signer.address, "to": receiver, "amount": amount}
        if code is not Restriction.OK:
            result.update(allowed=False, rule=code.rule if code else "rpc-error")
        else:
            result["allowed"] = True
            items.append((signer, token.tx("transfer", receiver, amount, gas=TRANSFER_GAS_LIMIT)))
        results.append(result)
    receipts = iter(platform.chain.confirm(platform.chain.submit_batch(items)))
    for result in results:
        if result["allowed"]:
            receipt = next(receipts)
            result.update(tx=receipt.tx_hash, block=receipt.block_number, settled=receipt.status)
    return results


# -------------------------------------------------------------------- reads


def info(platform: Platform, token: Bound) -> dict[str, Any]:
    rules = rules_of(token)
    return {
        "address": token.address,
        "asset": token.read("assetId"),
        "name": token.read("name"),
        "symbol": token.read("symbol"),
        "decimals": token.read("decimals"),
        "total_supply": token.read("totalSupply"),
        "holders": token.read("holderCount"),
        "foreign_held": token.read("foreignHeld"),
        "paused": rules.paused,
        "rules": {
            "eligible_categories": sorted(c.label for c in rules.eligible_categories),
            "foreign_cap_bps": rules.foreign_cap_bps,
            "max_holders": rules.max_holders,
            "lockup_until": rules.lockup_until,
            "country_mode": rules.country_mode,
            "countries": [country_label(c) for c in rules.countries],
            "domestic_country": country_label(rules.domestic_country),
            "holding_cap": rules.holding_cap,
            "minimum_holding": rules.minimum_holding,
        },
    }


def holders(platform: Platform, token: Bound, block: int | str = "latest") -> list[dict[str, Any]]:
    """Wallets with a balance at `block`, from the token's Transfer history; frozen units and
    flags as of that block too."""
    if isinstance(block, int):
        head = platform.chain.block_number()
        if not 0 <= block <= head:
            raise InvalidInput(f"block {block} is not on the chain (head is block {head})")
    balances: dict[str, int] = {}
    for event in platform.decoded_logs(token, ("Transfer",), to_block=block):
        if int(event["sender"], 16):
            balances[event["sender"]] = balances.get(event["sender"], 0) - event["value"]
        if int(event["receiver"], 16):
            balances[event["receiver"]] = balances.get(event["receiver"], 0) + event["value"]
    rows = []
    for wallet, balance in sorted(balances.items(), key=lambda item: -item[1]):
        if balance == 0:
            continue
        record = identities.wallet_record(platform, wallet)
        rows.append(
            {
                "wallet": wallet,
                "institution": identities.name_of(platform, wallet),
                "category": record.category.label if record.registered else "unregistered",
                "country": country_label(record.country) if record.registered else "-",
                "balance": balance,
                "frozen": token.read("getFrozenTokens", wallet, block=block),
                "wallet_frozen": token.read("isFrozen", wallet, block=block),
            }
        )
    return rows


HISTORY_EVENTS = (
    "Transfer",
    "EnforcementAction",
    "Paused",
    "Unpaused",
    "RulesUpdated",
    "HoldingLimitsUpdated",
    "CountriesListed",
    "RecoverySuccess",
)


def history(platform: Platform, token: Bound) -> list[dict[str, Any]]:
    rows = platform.decoded_logs(token, HISTORY_EVENTS)
    for row in rows:
        for key, value in list(row.items()):
            if isinstance(value, bytes):
                row[key] = "0x" + value.hex()
    return rows
