"""Coupons, rent, dividends and redemptions paid in cash tokens to the holders of record.

The holders of record are read from the token's Transfer events up to the record block, so the
payout list is reproducible by anyone with the chain: the declaration carries its Merkle root,
and the paying agent (or any holder claiming) recomputes the same list and proves each payout.
Payouts split the declared total exactly (`amanat.domain.distribution`: floor, then the
remainder one minor unit at a time by largest fractional part, ties to the lower address).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from amanat.chain.client import Receipt
from amanat.domain.distribution import KINDS, PAY_BATCH, Payout, distribute
from amanat.domain.evm import to_checksum_address
from amanat.domain.money import format_pkr
from amanat.domain.payouts import PayoutTree
from amanat.errors import InvalidInput, NotFound, RuleViolation
from amanat.services import dvp, governance
from amanat.services.platform import Bound, Platform, Prepared, read_many

KIND_NAMES = {v: k for k, v in KINDS.items()}
# Gas ceiling per payout (a first cash payment and a redemption burn cost ~55k and ~80k), so that
# pay transactions need no estimate each: gas is free on the permissioned chain.
PAYOUT_GAS = 150_000
READ_CHUNK = 500


def parse_kind(text: str) -> int:
    try:
        return KINDS[text.strip().lower()]
    except KeyError:
        raise InvalidInput(f"distribution kind {text!r} is not one of {', '.join(KINDS)}") from None


def holders_of_record(platform: Platform, token: Bound, record_block: int) -> dict[str, int]:
    """Balances at the end of `record_block`, from the token's Transfer events."""
    head = platform.chain.block_number()
    if not 0 <= record_block <= head:
        raise InvalidInput(f"record block {record_block} is not on the chain (head {head})")
    balances: dict[str, int] = {}
    for event in platform.decoded_logs(token, ("Transfer",), to_block=record_block):
        if int(event["sender"], 16):
            balances[event["sender"]] = balances.get(event["sender"], 0) - event["value"]
        if int(event["receiver"], 16):
            balances[event["receiver"]] = balances.get(event["receiver"], 0) + event["value"]
    return {holder: units for holder, units in balances.items() if units > 0}


def plan(
    platform: Platform, token: Bound, total_minor: int, record_block: int
) -> tuple[list[Payout], PayoutTree]:
    payouts = distribute(total_minor, holders_of_record(platform, token, record_block))
    return payouts, PayoutTree(token.address, record_block, payouts)


def total_for_per_unit(
    platform: Platform, token: Bound, per_unit_minor: int, record_block: int
) -> int:
    """The total of a distribution declared per unit (a coupon, dividend per share or par
    redemption): every unit of record times the amount, so each payout is exact."""
    if per_unit_minor <= 0:
        raise InvalidInput(f"amount per unit {per_unit_minor} must be positive")
    return per_unit_minor * sum(holders_of_record(platform, token, record_block).values())


def record_block_for(platform: Platform, record_time: int) -> int:
    """The block of record for a record date-time: the last block at or before it. A time
    after the chain's latest block is refused: its holders of record are not known yet."""
    latest = platform.clock.chain_time()
    if record_time > latest:
        raise InvalidInput(
            f"record date {_utc(record_time)} is after the chain's latest block ({_utc(latest)})"
        )
    first = platform.chain.block_timestamp(0)
    if record_time < first:
        raise InvalidInput(
            f"record date {_utc(record_time)} is before the chain's first block ({_utc(first)})"
        )
    return platform.chain.block_at_or_before(record_time)


def _utc(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def declaration(
    platform: Platform, token: Bound, kind: int, total_minor: int, record_block: int
) -> tuple[str, list[Any], dict[str, Any]]:
    """The checked Distributor call declaring a distribution of `total_minor` to the holders of
    record at `record_block` (function and arguments), and a summary of the plan. A redemption
    cancels units: it is `declareRedemption`, which must cite evidence."""
    if total_minor <= 0:
        raise InvalidInput(f"distribution total {total_minor} must be positive")
    symbol = token.read("symbol")
    if kind == KINDS["redemption"] and not token.read("matured"):
        raise RuleViolation("not-matured", f"{symbol} has not matured: propose `mature` first")
    treasury = platform.contract("CashToken").read(
        "balanceOf", platform.manifest.address("Governance")
    )
    if treasury < total_minor:
        raise RuleViolation(
            "treasury-funds",
            f"the treasury holds {format_pkr(treasury)}, less than the {format_pkr(total_minor)} "
            "to distribute",
            treasury_minor=treasury,
            total_minor=total_minor,
        )
    payouts, tree = plan(platform, token, total_minor, record_block)
    rest = [record_block, total_minor, tree.root, len(payouts), tree.depth]
    if kind == KINDS["redemption"]:
        function, arguments = "declareRedemption", [token.address, *rest]
    else:
        function, arguments = "declare", [token.address, kind, *rest]
    return (
        function,
        arguments,
        {
            "token": token.address,
            "symbol": symbol,
            "kind": KIND_NAMES[kind],
            "record_block": record_block,
            "total_minor": total_minor,
            "total": format_pkr(total_minor),
            "holders": len(payouts),
            "root": "0x" + tree.root.hex(),
        },
    )


def propose_declare(
    platform: Platform,
    official: str,
    token: Bound,
    kind: int,
    total_minor: int,
    record_block: int,
    idempotency_key: str | None = None,
    evidence: str | None = None,
) -> tuple[int, dict[str, Any]]:
    """Propose a distribution of `total_minor` to the holders of record at `record_block` (a
    redemption with the evidence hash of its notice)."""
    function, arguments, summary = declaration(platform, token, kind, total_minor, record_block)
    proposal_id = governance.propose(
        platform,
        official,
        platform.contract("Distributor"),
        function,
        arguments,
        evidence,
        idempotency_key=idempotency_key,
    )
    return proposal_id, {"proposal": proposal_id, **summary}


def _declared(platform: Platform, distribution_id: int) -> dict[str, Any]:
    distributor = platform.contract("Distributor")
    count = distributor.read("distributionCount")
    if not 1 <= distribution_id <= count:  # also the existence check of propose_release
        raise NotFound(
            f"no distribution {distribution_id} (there are {count})", distribution=distribution_id
        )
    (
        token,
        kind,
        record_block,
        total,
        root,
        holder_count,
        depth,
        paid_count,
        paid_total,
        held_total,
        closed,
    ) = distributor.read("getDistribution", distribution_id)
    return {
        "distribution": distribution_id,
        "token": token,
        "kind": KIND_NAMES[kind],
        "record_block": record_block,
        "total_minor": total,
        "root": "0x" + root.hex(),
        "holders": holder_count,
        "depth": depth,
        "payouts_made": paid_count,
        "paid_minor": paid_total,
        "held_minor": held_total,
        "closed": closed,
    }


def _tree_of(platform: Platform, declared: dict[str, Any]) -> tuple[list[Payout], PayoutTree]:
    """Recompute the declared payout list from the chain; it must match the declared root."""
    token = platform.token(declared["token"])
    payouts, tree = plan(platform, token, declared["total_minor"], declared["record_block"])
    if "0x" + tree.root.hex() != declared["root"]:
        raise RuleViolation(
            "payout-list-mismatch",
            f"the holders of record at block {declared['record_block']} give root "
            f"0x{tree.root.hex()}, not the declared {declared['root']}",
        )
    return payouts, tree


def pay(
    platform: Platform, agent: str, distribution_id: int, batch_size: int = PAY_BATCH
) -> dict[str, Any]:
    """Push every payout not yet made, `batch_size` per transaction, all journaled at once."""
    if not 1 <= batch_size <= PAY_BATCH:
        raise InvalidInput(f"batch size {batch_size} must be between 1 and {PAY_BATCH}")
    declared = _declared(platform, distribution_id)
    if declared["closed"]:
        raise RuleViolation("closed", f"distribution {distribution_id} is closed")
    payouts, tree = _tree_of(platform, declared)
    if declared["kind"] == "redemption":
        _release_locked_units(platform, agent, declared["token"])
    distributor = platform.contract("Distributor")
    pending = list(range(len(payouts)))
    if declared["payouts_made"]:
        made: list[bool] = []
        for start in range(0, len(payouts), READ_CHUNK):
            made += read_many(
                [
                    (distributor, "isPaid", (distribution_id, i))
                    for i in range(start, min(start + READ_CHUNK, len(payouts)))
                ]
            )
        pending = [i for i in pending if not made[i]]
    requests = []
    for start in range(0, len(pending), batch_size):
        chunk = pending[start : start + batch_size]
        requests.append(
            distributor.tx(
                "pay",
                distribution_id,
                chunk,
                [payouts[i].holder for i in chunk],
                [payouts[i].units for i in chunk],
                [payouts[i].amount_minor for i in chunk],
                [sibling for i in chunk for sibling in tree.proof(i)],
                description=f"pay distribution {distribution_id} ({len(chunk)} payouts)",
                gas=PAYOUT_GAS * len(chunk) + 100_000,
            )
        )
    receipts = platform.chain.transact(platform.signer(agent), requests) if requests else []
    return {
        **show(platform, distribution_id),
        "transactions": len(receipts),
        "gas_used": sum(r.gas_used for r in receipts),
        "blocks": len({r.block_number for r in receipts}),
    }


def _release_locked_units(platform: Platform, agent: str, token: str) -> None:
    """Cancel the open DvP instructions of a matured token (it can no longer settle, and anyone
    may cancel them), so that no locked unit blocks its redemption."""
    settlement = platform.contract("Settlement")
    count = settlement.read("instructionCount")
    found = dvp.instructions(platform, range(1, count + 1))
    stale = [i for i in found.values() if i.token == token and i.state in (1, 2)]
    if stale:
        platform.chain.transact(
            platform.signer(agent),
            [
                settlement.tx(
                    "cancel",
                    i.instruction_id,
                    i.terms,
                    description=f"cancel DvP {i.instruction_id} at maturity",
                )
                for i in stale
            ],
        )


def propose_close(
    platform: Platform, official: str, distribution_id: int, evidence: str | None = None
) -> int:
    """Propose closing a distribution that cannot complete: what was neither paid nor held goes
    back to the treasury (payouts not made are forfeited, so it cites evidence); held payouts
    stay releasable."""
    declared = _declared(platform, distribution_id)
    if declared["closed"]:
        raise RuleViolation("closed", f"distribution {distribution_id} is already closed")
    if declared["payouts_made"] == declared["holders"]:
        raise RuleViolation("complete", f"distribution {distribution_id} is complete")
    return governance.propose(
        platform,
        official,
        platform.contract("Distributor"),
        "closeDistribution",
        [distribution_id],
        evidence,
    )


def prepare_claim(
    platform: Platform,
    wallet: str,
    distribution_id: int,
    idempotency_key: str | None = None,
    holder: str | None = None,
) -> Prepared:
    """Wallet `wallet` (named `holder` in a refusal, if given) claims its payout with its proof."""
    declared = _declared(platform, distribution_id)
    payouts, tree = _tree_of(platform, declared)
    index = next((i for i, p in enumerate(payouts) if p.holder == wallet), None)
    if index is None:
        named = f"{holder} ({wallet})" if holder else wallet
        raise NotFound(f"{named} held no units at the record block")
    payout = payouts[index]
    request = platform.contract("Distributor").tx(
        "claim",
        distribution_id,
        index,
        payout.units,
        payout.amount_minor,
        tree.proof(index),
        key=idempotency_key,
        description=f"claim from distribution {distribution_id}",
    )

    def finish(receipt: Receipt) -> dict[str, Any]:
        return {
            "distribution": distribution_id,
            "holder": wallet,
            "amount_minor": payout.amount_minor,
            "tx": receipt.tx_hash,
            "gas_used": receipt.gas_used,
        }

    return Prepared(wallet, request, finish)


def claim(
    platform: Platform, holder: str, distribution_id: int, idempotency_key: str | None = None
) -> dict[str, Any]:
    """A holder claims its own payout with its proof, by its own key."""
    signer = platform.signer(holder)
    wallet = to_checksum_address(signer.address)
    return platform.send(
        signer, prepare_claim(platform, wallet, distribution_id, idempotency_key, holder)
    )


def release_call(distribution_id: int, holder: str, receiver: str) -> tuple[str, list[Any]]:
    """The Distributor call paying a held payout: `releaseHeld` to the holder itself, or
    `redirectHeld` to another wallet (which must cite evidence)."""
    if receiver == holder:
        return "releaseHeld", [distribution_id, holder]
    return "redirectHeld", [distribution_id, holder, receiver]


def propose_release(
    platform: Platform,
    official: str,
    distribution_id: int,
    holder: str,
    receiver: str,
    evidence: str | None = None,
) -> int:
    """Propose paying out a held payout (after the wallet is unfrozen; to another wallet, such
    as a recovery wallet, only with evidence)."""
    _declared(platform, distribution_id)
    wallet = platform.address_of(holder)
    held = platform.contract("Distributor").read("held", distribution_id, wallet)
    if not held:
        raise NotFound(f"nothing is held for {holder} in distribution {distribution_id}")
    function, args = release_call(distribution_id, wallet, platform.address_of(receiver))
    return governance.propose(
        platform, official, platform.contract("Distributor"), function, args, evidence
    )


def propose_maturity(
    platform: Platform, official: str, token: Bound, evidence: str | None = None
) -> int:
    """Propose marking the token matured: no more transfers, only redemption (it cites the
    maturity or early-redemption notice as evidence)."""
    if token.read("matured"):
        raise RuleViolation("matured", f"{token.read('symbol')} has already matured")
    return governance.propose(platform, official, token, "markMatured", [], evidence)


def show(platform: Platform, distribution_id: int) -> dict[str, Any]:
    declared = _declared(platform, distribution_id)
    return {
        **declared,
        "symbol": platform.token(declared["token"]).read("symbol"),
        "total": format_pkr(declared["total_minor"]),
        "paid": format_pkr(declared["paid_minor"]),
        "held": format_pkr(declared["held_minor"]),
        "complete": declared["payouts_made"] == declared["holders"],
    }


def list_distributions(platform: Platform) -> list[dict[str, Any]]:
    count = platform.contract("Distributor").read("distributionCount")
    return [show(platform, i) for i in range(1, count + 1)]
