"""Secondary delivery versus payment: the seller instructs (units locked), the buyer affirms
(cash locked), either party settles both legs atomically; cancel and expiry release both."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from eth_utils import to_checksum_address

from amanat.chain.client import Receipt
from amanat.domain.money import format_pkr
from amanat.errors import InvalidInput, NotFound, RuleViolation
from amanat.services import tokens
from amanat.services.approvals import Forbidden
from amanat.services.platform import Bound, Platform, Prepared

STATES = {1: "instructed", 2: "affirmed", 3: "settled", 4: "cancelled", 5: "expired"}
DVP_EVENTS = ("DvPInstructed", "DvPAffirmed", "DvPSettled", "DvPCancelled", "DvPExpired")


def prepare_instruct(
    platform: Platform,
    sender: str,
    token: Bound,
    to: str,
    units: int,
    cash_minor: int,
    deadline: int,
    idempotency_key: str | None = None,
    counterparty_detail: bool = True,
) -> Prepared:
    """The seller's (wallet `sender`) instruction to deliver to wallet `to`; the transfer is
    pre-checked against the token's rules first (a refusal told without the buyer's data
    unless `counterparty_detail`, as in `tokens.explain`)."""
    if units <= 0 or cash_minor <= 0:
        raise InvalidInput(f"units ({units}) and cash ({cash_minor}) must be positive")
    now = platform.clock.chain_time()
    settlement = platform.contract("Settlement")
    replay = platform.chain.seen(idempotency_key)  # a replay returns the first transaction
    if deadline <= now and not replay:
        raise InvalidInput(f"deadline {_utc(deadline)} is not after the chain's time {_utc(now)}")
    longest = settlement.read("maxDeadlineSeconds")
    if deadline > now + longest and not replay:
        raise InvalidInput(
            f"deadline {_utc(deadline)} is beyond the maximum settlement period of "
            f"{longest // 86_400} days (latest {_utc(now + longest)})"
        )
    registry = platform.contract("IdentityRegistry")
    seller_identity = registry.read("identityNumberOf", sender)
    if seller_identity and seller_identity == registry.read("identityNumberOf", to):
        raise RuleViolation(
            "own-identity",
            f"{to} is a wallet of the seller's own identity {seller_identity}: a DvP needs "
            "two institutions",
        )
    if not replay:
        verdict = tokens.precheck(platform, token, sender, to, units, counterparty_detail)
        if not verdict.allowed:
            raise verdict.refuse()

    def finish(receipt: Receipt) -> dict[str, Any]:
        (event,) = settlement.events(receipt, "DvPInstructed")
        return show(platform, int(event["instructionId"]))

    request = settlement.tx(
        "instruct",
        token.address,
        to,
        units,
        cash_minor,
        deadline,
        key=idempotency_key,
        description="DvP instruction",
    )
    return Prepared(sender, request, finish)


def instruct(
    platform: Platform,
    seller: str,
    token: Bound,
    buyer: str,
    units: int,
    cash_minor: int,
    deadline: int,
    idempotency_key: str | None = None,
    counterparty_detail: bool = True,
) -> dict[str, Any]:
    """The seller's instruction by its own key (see `prepare_instruct`)."""
    signer = platform.signer(seller)
    return platform.send(
        signer,
        prepare_instruct(
            platform,
            to_checksum_address(signer.address),
            token,
            platform.address_of(buyer),
            units,
            cash_minor,
            deadline,
            idempotency_key,
            counterparty_detail,
        ),
    )


def _utc(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def check_step(shown: dict[str, Any], sender: str, step: str) -> None:
    """The platform's own refusal of an institution's step before the chain is asked (server-
    or client-signed alike): only a party affirms, settles or cancels, and only the buyer
    affirms (anyone may expire a lapsed instruction)."""
    parties = {shown["seller"], shown["buyer"]}
    if step in ("affirm", "settle", "cancel") and sender not in parties:
        raise Forbidden(
            f"an institution takes steps only on DvP instructions it is a party to "
            f"(instruction {shown['instruction']})"
        )
    if step == "affirm" and sender != shown["buyer"]:
        raise Forbidden(f"only the buyer affirms instruction {shown['instruction']}")


def prepare_step(
    platform: Platform, sender: str, instruction_id: int, step: str, key: str | None = None
) -> Prepared:
    """A step of an instruction (affirm, settle, cancel or expire) by wallet `sender`; the
    contract decides who may take it and when."""
    _require(platform, instruction_id)
    request = platform.contract("Settlement").tx(
        step, instruction_id, key=key, description=f"DvP {step} {instruction_id}"
    )
    return Prepared(sender, request, lambda _receipt: show(platform, instruction_id))


def _act(
    platform: Platform, who: str, instruction_id: int, step: str, key: str | None
) -> dict[str, Any]:
    signer = platform.signer(who)
    return platform.send(
        signer,
        prepare_step(platform, to_checksum_address(signer.address), instruction_id, step, key),
    )


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
