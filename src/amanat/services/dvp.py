"""Secondary delivery versus payment: the seller instructs (units locked), the buyer affirms
(cash locked), either party settles both legs atomically; cancel and expiry release both."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from amanat.chain.abi import dvp_terms_hash
from amanat.chain.client import Receipt
from amanat.domain.evm import to_checksum_address
from amanat.domain.money import format_pkr
from amanat.errors import InvalidInput, NotFound, RuleViolation
from amanat.services import tokens
from amanat.services.platform import Bound, Platform, Prepared, read_many

STATES = {1: "instructed", 2: "affirmed", 3: "settled", 4: "cancelled", 5: "expired"}
DVP_EVENTS = ("DvPInstructed", "DvPAffirmed", "DvPSettled", "DvPCancelled", "DvPExpired")


@dataclass(frozen=True)
class Instruction:
    """A DvP instruction: its terms as `DvPInstructed` carries them (the contract stores only
    their hash, and every later step is passed them) and its state from the contract."""

    instruction_id: int
    seller: str
    buyer: str
    token: str
    units: int
    cash_minor: int
    deadline: int
    state: int

    @property
    def terms(self) -> tuple[str, str, str, int, int, int]:
        """The terms argument of affirm, settle, cancel, expire and enforceCancel."""
        return (self.seller, self.buyer, self.token, self.units, self.cash_minor, self.deadline)


def instructions(platform: Platform, instruction_ids: Sequence[int]) -> dict[int, Instruction]:
    """These instructions, their terms read from their `DvPInstructed` events (one log query)
    and checked against the hash the contract stores: a node serving another log cannot change
    what a party signs."""
    if not instruction_ids:
        return {}
    settlement = platform.contract("Settlement")
    records = read_many([(settlement, "getInstruction", (i,)) for i in instruction_ids])
    every = len(instruction_ids) == settlement.read("instructionCount")
    logs = platform.decoded_logs(
        settlement, ["DvPInstructed"], first_indexed=() if every else instruction_ids
    )
    events = {int(log["instructionId"]): log for log in logs}
    found = {}
    for instruction_id, (stored_hash, state) in zip(instruction_ids, records, strict=True):
        event = events.get(instruction_id)
        instruction = None
        if event is not None:
            instruction = Instruction(
                instruction_id,
                event["seller"],
                event["buyer"],
                event["token"],
                int(event["units"]),
                int(event["cashAmount"]),
                int(event["deadline"]),
                int(state),
            )
        if instruction is None or dvp_terms_hash(instruction.terms) != bytes(stored_hash):
            raise RuleViolation(
                "dvp-terms",
                f"the chain's DvPInstructed event of instruction {instruction_id} is missing or "
                f"does not match the terms hash the instruction stores (0x{bytes(stored_hash).hex()})",
                instruction=instruction_id,
            )
        found[instruction_id] = instruction
    return found


def instruction(platform: Platform, instruction_id: int) -> Instruction:
    """One instruction (see `instructions`); an unknown id is NotFound."""
    _require(platform, instruction_id)
    return instructions(platform, [instruction_id])[instruction_id]


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
    from amanat.services.approvals import Forbidden  # approvals imports this module

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
    terms = instruction(platform, instruction_id).terms
    request = platform.contract("Settlement").tx(
        step, instruction_id, terms, key=key, description=f"DvP {step} {instruction_id}"
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
    return _shown(platform, instruction(platform, instruction_id))


def _shown(platform: Platform, i: Instruction) -> dict[str, Any]:
    return {
        "instruction": i.instruction_id,
        "seller": i.seller,
        "buyer": i.buyer,
        "token": i.token,
        "symbol": platform.token(i.token).read("symbol"),
        "units": i.units,
        "cash_minor": i.cash_minor,
        "cash": format_pkr(i.cash_minor),
        "deadline": i.deadline,
        "state": STATES[i.state],
    }


def list_instructions(platform: Platform) -> list[dict[str, Any]]:
    count = platform.contract("Settlement").read("instructionCount")
    found = instructions(platform, range(1, count + 1))
    return [_shown(platform, found[i]) for i in range(1, count + 1)]
