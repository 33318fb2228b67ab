"""The cash leg: tokenized PKR issued against deposits (M-of-N), balances and locks."""

from __future__ import annotations

import hashlib
from typing import Any

from amanat.domain.money import format_pkr
from amanat.errors import InvalidInput, RuleViolation
from amanat.services import governance
from amanat.services.platform import Platform


def reference_hash(reference: str) -> str:
    """The on-chain reference of a deposit or withdrawal: SHA-256 of its bank reference text."""
    if not reference.strip():
        raise InvalidInput("a deposit or withdrawal needs its bank reference")
    return "0x" + hashlib.sha256(reference.strip().encode()).hexdigest()


def propose_issue(
    platform: Platform,
    official: str,
    receiver: str,
    amount_minor: int,
    reference: str,
    idempotency_key: str | None = None,
) -> int:
    """Propose issuing cash to a verified institution against an off-chain deposit."""
    if amount_minor <= 0:
        raise InvalidInput(f"amount {amount_minor} must be positive")
    cash = platform.contract("CashToken")
    wallet = platform.address_of(receiver)
    if not cash.read("mayHold", wallet):
        raise RuleViolation(
            "receiver-not-verified",
            f"{receiver} ({wallet}) is not a verified institution: it may not hold cash",
        )
    return governance.propose(
        platform,
        official,
        cash,
        "issueCash",
        [wallet, amount_minor, bytes.fromhex(reference_hash(reference)[2:])],
        idempotency_key=idempotency_key,
    )


def balance(platform: Platform, who: str) -> dict[str, Any]:
    cash = platform.contract("CashToken")
    wallet = platform.address_of(who)
    total = cash.read("balanceOf", wallet)
    locked = cash.read("lockedOf", wallet)
    return {
        "wallet": wallet,
        "balance_minor": total,
        "locked_minor": locked,
        "available_minor": total - locked,
        "balance": format_pkr(total),
        "may_hold": cash.read("mayHold", wallet),
    }


def supply(platform: Platform) -> dict[str, Any]:
    cash = platform.contract("CashToken")
    treasury = platform.manifest.address("Governance")
    total = cash.read("totalSupply")
    held = cash.read("balanceOf", treasury)
    return {
        "symbol": cash.read("symbol"),
        "supply_minor": total,
        "supply": format_pkr(total),
        "treasury_minor": held,
        "treasury": format_pkr(held),
    }
