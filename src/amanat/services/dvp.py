"""Secondary delivery versus payment: the seller instructs (units locked), the buyer affirms
(cash locked), either party settles both legs atomically; cancel and expiry release both."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from eth_utils import to_checksum_address

from amanat.domain.money import format_pkr
from amanat.errors import InvalidInput, NotFound, RuleViolation
from amanat.services import tokens
from amanat.services.platform import Bound, Platform

STATES = {1: "instructed", 2: "affirmed", 3: "settled", 4: "cancelled", 5: "expired"}
DVP_EVENTS = ("DvPInstructed", "DvPAffirmed", "DvPSettled", "DvPCancelled", "DvPExpired")


def instruct(
    platform: Platform,
    seller: str,
    token: Bound,
    buyer: str,
    units: int,
    cash_minor: int,
    deadline: int,
    idempotency_key: str | None = None,
) -> dict[str, Any]:
    """The seller's instruction; the transfer is pre-checked against the token's rules first."""
    if units <= 0 or cash_minor <= 0:
        raise InvalidInput(f"units ({units}) and cash ({cash_minor}) must be positive")
    now = platform.clock.chain_time()
    if deadline <= now:
        raise InvalidInput(f"deadline {_utc(deadline)} is not after the chain's time {_utc(now)}")
    settlement = platform.contract("Settlement")
    longest = settlement.read("maxDeadlineSeconds")
    if deadline > now + longest:
        raise InvalidInput(
            f"deadline {_utc(deadline)} is beyond the maximum settlement period of "
            f"{longest // 86_400} days (latest {_utc(now + longest)})"
        )
    signer = platform.signer(seller)
    sender = to_checksum_address(signer.address)
    to = platform.address_of(buyer)
    registry = platform.contract("IdentityRegistry")
    seller_identity = registry.read("identityNumberOf", sender)
    if seller_identity and seller_identity == registry.read("identityNumberOf", to):
        raise RuleViolation(
            "own-identity",
            f"{buyer} is a wallet of the seller's own identity {seller_identity}: a DvP needs "
            "two institutions",
        )
    if not platform.chain.seen(idempotency_key):
        verdict = tokens.precheck(platform, token, sender, to, units)
        if not verdict.allowed:
            raise verdict.refuse()
    (receipt,) = platform.chain.transact(
        signer,
        [
            settlement.tx(
                "instruct",
                token.address,
                to,
                units,
                cash_minor,
                deadline,
                key=idempotency_key,
                description="DvP instruction",
            )
        ],
    )
    (event,) = settlement.events(receipt, "DvPInstructed")
    return show(platform, int(event["instructionId"]))


def _utc(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _act(
    platform: Platform, who: str, instruction_id: int, function: str, key: str | None
) -> dict[str, Any]:
    _require(platform, instruction_id)
    settlement = platform.contract("Settlement")
    platform.chain.transact(
        platform.signer(who),
        [
            settlement.tx(
                function, instruction_id, key=key, description=f"DvP {function} {instruction_id}"
            )
        ],
    )
    return show(platform, instruction_id)


def affirm(
    platform: Platform, buyer: str, instruction_id: int, idempotency_key: str | None = None
) -> dict[str, Any]:
    return _act(platform, buyer, instruction_id, "affirm", idempotency_key)


def settle(
    platform: Platform, party: str, instruction_id: int, idempotency_key: str | None = None
) -> dict[str, Any]:
    return _act(platform, party, instruction_id, "settle", idempotency_key)


def cancel(
    platform: Platform, party: str, instruction_id: int, idempotency_key: str | None = None
) -> dict[str, Any]:
    return _act(platform, party, instruction_id, "cancel", idempotency_key)


def expire(
    platform: Platform, anyone: str, instruction_id: int, idempotency_key: str | None = None
) -> dict[str, Any]:
    return _act(platform, anyone, instruction_id, "expire", idempotency_key)


def _require(platform: Platform, instruction_id: int) -> None:
    count = platform.contract("Settlement").read("instructionCount")
    if not 1 <= instruction_id <= count:
        raise NotFound(
            f"no DvP instruction {instruction_id} (there are {count})", instruction=instruction_id
        )


def show(platform: Platform, instruction_id: int) -> dict[str, Any]:
    _require(platform, instruction_id)
    seller, buyer, token, units, cash, deadline, state = platform.contract("Settlement").read(
        "getInstruction", instruction_id
    )
    return {
        "instruction": instruction_id,
        "seller": seller,
        "buyer": buyer,
        "token": token,
        "symbol": platform.token(token).read("symbol"),
        "units": units,
        "cash_minor": cash,
        "cash": format_pkr(cash),
        "deadline": deadline,
        "state": STATES[state],
    }


def list_instructions(platform: Platform) -> list[dict[str, Any]]:
    count = platform.contract("Settlement").read("instructionCount")
    return [show(platform, i) for i in range(1, count + 1)]
