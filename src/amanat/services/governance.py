"""M-of-N governance: propose a privileged call with its evidence, approve, execute, inspect."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from amanat.chain.abi import interface
from amanat.chain.artifacts import CONTRACT_NAMES
from amanat.domain.governance import ActionType, affects_holder_property
from amanat.errors import InvalidInput, NotFound, RuleViolation
from amanat.services.platform import Bound, Platform

DEFAULT_LIFETIME_SECONDS = 7 * 86400


@dataclass(frozen=True)
class ProposalView:
    id: int
    target: str
    action: str
    function: str
    evidence: str
    proposer: str
    approvals: int
    threshold: int
    created_at: int
    expires_at: int
    ready_at: int
    state: str

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def parse_evidence(text: str | None) -> bytes:
    """A 32-byte evidence hash given as 0x-prefixed hex (SHA-256 of the legal document)."""
    if not text:
        return b"\x00" * 32
    raw = text.removeprefix("0x")
    if len(raw) != 64:
        raise InvalidInput(f"evidence hash {text!r} must be 32 bytes of hex (64 characters)")
    try:
        return bytes.fromhex(raw)
    except ValueError:
        raise InvalidInput(f"evidence hash {text!r} is not hexadecimal") from None


def propose(
    platform: Platform,
    official: str,
    target: Bound,
    function: str,
    args: list[Any],
    evidence: str | None = None,
    lifetime_seconds: int = DEFAULT_LIFETIME_SECONDS,
    idempotency_key: str | None = None,
) -> int:
    """Propose `target.function(*args)`; the proposer's approval counts. Returns the proposal id."""
    if not evidence and affects_holder_property(function):
        raise InvalidInput(
            f"{function} affects a holder's property and requires an evidence hash (SHA-256 "
            "of the legal basis, e.g. a court order)"
        )
    governance = platform.contract("Governance")
    call_data = target.encode(function, *args)
    request = governance.tx(
        "propose",
        target.address,
        call_data,
        parse_evidence(evidence),
        lifetime_seconds,
        key=idempotency_key,
        description=f"propose {target.abi.name}.{function}",
    )
    (receipt,) = platform.chain.transact(platform.signer(official), [request])
    created = governance.events(receipt, "ProposalCreated")
    if not created:
        # An idempotent replay: the earlier transaction's receipt carries the event.
        raise RuleViolation(
            "proposal-missing", "proposal transaction emitted no ProposalCreated event"
        )
    return int(created[0]["proposalId"])


def approve(platform: Platform, official: str, proposal_id: int) -> ProposalView:
    governance = platform.contract("Governance")
    _require_exists(platform, proposal_id)
    platform.chain.transact(
        platform.signer(official),
        [governance.tx("approve", proposal_id, description=f"approve proposal {proposal_id}")],
    )
    return show(platform, proposal_id)


def execute(platform: Platform, official: str, proposal_id: int) -> ProposalView:
    governance = platform.contract("Governance")
    view = show(platform, proposal_id)
    if view.state == "waiting-timelock":
        remaining = view.ready_at - platform.chain.block_timestamp()
        raise RuleViolation(
            "timelock",
            f"proposal {proposal_id} ({view.action}) is in its timelock for {remaining} more seconds",
            ready_at=view.ready_at,
        )
    if view.state == "collecting-approvals":
        raise RuleViolation(
            "approvals",
            f"proposal {proposal_id} has {view.approvals} of {view.threshold} approvals",
            approvals=view.approvals,
            threshold=view.threshold,
        )
    platform.chain.transact(
        platform.signer(official),
        [governance.tx("execute", proposal_id, description=f"execute proposal {proposal_id}")],
    )
    return show(platform, proposal_id)


def cancel(platform: Platform, official: str, proposal_id: int) -> ProposalView:
    governance = platform.contract("Governance")
    _require_exists(platform, proposal_id)
    platform.chain.transact(platform.signer(official), [governance.tx("cancel", proposal_id)])
    return show(platform, proposal_id)


def _require_exists(platform: Platform, proposal_id: int) -> None:
    count = platform.contract("Governance").read("proposalCount")
    if not 1 <= proposal_id <= count:
        raise NotFound(f"no proposal {proposal_id} (there are {count})", proposal=proposal_id)


def _function_name(target_selector: bytes) -> str:
    for name in CONTRACT_NAMES:
        for fn in interface(name).functions.values():
            if fn.selector == target_selector:
                return fn.name
    return "0x" + target_selector.hex()


def show(platform: Platform, proposal_id: int) -> ProposalView:
    governance = platform.contract("Governance")
    _require_exists(platform, proposal_id)
    (
        target,
        selector,
        action,
        evidence,
        proposer,
        approvals,
        created,
        expires,
        ready,
        executed,
        cancelled,
    ) = governance.read("getProposal", proposal_id)
    threshold = governance.read("threshold")
    now = platform.chain.block_timestamp()
    if executed:
        state = "executed"
    elif cancelled:
        state = "cancelled"
    elif now >= expires:
        state = "expired"
    elif approvals < threshold:
        state = "collecting-approvals"
    elif now < ready:
        state = "waiting-timelock"
    else:
        state = "ready"
    return ProposalView(
        id=proposal_id,
        target=target,
        action=ActionType(action).label,
        function=_function_name(selector),
        evidence="0x" + evidence.hex(),
        proposer=proposer,
        approvals=approvals,
        threshold=threshold,
        created_at=created,
        expires_at=expires,
        ready_at=ready,
        state=state,
    )


def list_proposals(platform: Platform) -> list[ProposalView]:
    count = platform.contract("Governance").read("proposalCount")
    return [show(platform, i) for i in range(1, count + 1)]


def govern(
    platform: Platform,
    officials: list[str],
    target: Bound,
    function: str,
    args: list[Any],
    evidence: str | None = None,
    advance_clock: bool = False,
) -> ProposalView:
    """Propose with officials[0], approve with the others up to the threshold, execute.

    On the embedded chain `advance_clock` moves the chain clock past the action's timelock (a
    simulation aid for demos and tests; real deployments wait it out)."""
    proposal_id = propose(platform, officials[0], target, function, args, evidence)
    view = show(platform, proposal_id)
    for official in officials[1:]:
        if view.approvals >= view.threshold:
            break
        view = approve(platform, official, proposal_id)
    if view.state == "waiting-timelock" and advance_clock:
        platform.chain.advance_time(view.ready_at - platform.chain.block_timestamp())
    return execute(platform, officials[0], proposal_id)
