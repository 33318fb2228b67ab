"""Maker-checker: a privileged action requested by one user runs only after M other approvers.

The maker (issuer, agent) files a request with its evidence. Approvers decide with their own keys:
the first approval creates the on-chain Governance proposal (which counts as that approver's
approval), later ones approve it on chain. When the threshold is met and the action's timelock
has passed, the proposal is executed. The maker can never approve their own request.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from amanat.domain.assets import AssetStatus
from amanat.domain.identity import InvestorCategory, parse_country
from amanat.domain.rules import TokenRules
from amanat.errors import InvalidInput, NotFound, RuleViolation
from amanat.services import governance, tokens
from amanat.services.accounts import Principal, Role
from amanat.services.platform import Bound, Platform
from amanat.store.models import ActionDecision, ActionRequest


class Forbidden(RuleViolation):
    exit_code = 4

    def __init__(self, message: str, **values: Any) -> None:
        super().__init__("forbidden", message, **values)


@dataclass(frozen=True)
class Kind:
    makers: frozenset[Role]
    build: Callable[[Platform, dict[str, Any]], tuple[Bound, str, list[Any], str]]
    evidence: bool = False


def _amount(params: dict[str, Any], name: str = "amount") -> int:
    value = params.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise InvalidInput(f"{name} must be a positive integer, got {value!r}")
    return value


def _text(params: dict[str, Any], name: str) -> str:
    value = params.get(name)
    if not isinstance(value, str) or not value:
        raise InvalidInput(f"{name} is required")
    return value


def _token(platform: Platform, params: dict[str, Any]) -> Bound:
    return tokens.resolve(platform, str(_text(params, "token")))


def _wallet(platform: Platform, params: dict[str, Any], name: str) -> str:
    return platform.address_of(_text(params, name))


def _mint(platform: Platform, p: dict[str, Any]) -> tuple[Bound, str, list[Any], str]:
    token, to, amount = _token(platform, p), _wallet(platform, p, "to"), _amount(p)
    verdict = tokens.mint_precheck(platform, token, to, amount)
    if not verdict.allowed:
        raise verdict.refuse()
    return token, "mint", [to, amount], f"mint {amount} {token.read('symbol')} to {to}"


def _burn(platform: Platform, p: dict[str, Any]) -> tuple[Bound, str, list[Any], str]:
    token, wallet, amount = _token(platform, p), _wallet(platform, p, "wallet"), _amount(p)
    return token, "burn", [wallet, amount], f"burn {amount} {token.read('symbol')} from {wallet}"


def _forced(platform: Platform, p: dict[str, Any]) -> tuple[Bound, str, list[Any], str]:
    token = _token(platform, p)
    sender, receiver, amount = _wallet(platform, p, "from"), _wallet(platform, p, "to"), _amount(p)
    return (
        token,
        "forcedTransfer",
        [sender, receiver, amount],
        f"forced transfer of {amount} {token.read('symbol')} {sender} -> {receiver}",
    )


def _freeze(
    freeze: bool,
) -> Callable[[Platform, dict[str, Any]], tuple[Bound, str, list[Any], str]]:
    def build(platform: Platform, p: dict[str, Any]) -> tuple[Bound, str, list[Any], str]:
        token, wallet = _token(platform, p), _wallet(platform, p, "wallet")
        verb = "freeze" if freeze else "unfreeze"
        return (
            token,
            "setAddressFrozen",
            [wallet, freeze],
            f"{verb} {wallet} on {token.read('symbol')}",
        )

    return build


def _partial(
    function: str,
) -> Callable[[Platform, dict[str, Any]], tuple[Bound, str, list[Any], str]]:
    def build(platform: Platform, p: dict[str, Any]) -> tuple[Bound, str, list[Any], str]:
        token, wallet, amount = _token(platform, p), _wallet(platform, p, "wallet"), _amount(p)
        return (
            token,
            function,
            [wallet, amount],
            f"{function} {amount} of {wallet} on {token.read('symbol')}",
        )

    return build


def _pause(
    function: str,
) -> Callable[[Platform, dict[str, Any]], tuple[Bound, str, list[Any], str]]:
    def build(platform: Platform, p: dict[str, Any]) -> tuple[Bound, str, list[Any], str]:
        token = _token(platform, p)
        return token, function, [], f"{function} {token.read('symbol')}"

    return build


def _recover(platform: Platform, p: dict[str, Any]) -> tuple[Bound, str, list[Any], str]:
    token, lost, new = (
        _token(platform, p),
        _wallet(platform, p, "lost"),
        _wallet(platform, p, "new"),
    )
    return (
        token,
        "recoveryAddress",
        [lost, new, "0x" + "00" * 20],
        f"recover {token.read('symbol')} of lost wallet {lost} to {new}",
    )


def _asset_status(
    status: AssetStatus,
) -> Callable[[Platform, dict[str, Any]], tuple[Bound, str, list[Any], str]]:
    def build(platform: Platform, p: dict[str, Any]) -> tuple[Bound, str, list[Any], str]:
        asset = _amount(p, "asset")
        return (
            platform.contract("AssetRegistry"),
            "setStatus",
            [asset, int(status)],
            f"mark asset {asset} {status.label}",
        )

    return build


def _accept_valuation(platform: Platform, p: dict[str, Any]) -> tuple[Bound, str, list[Any], str]:
    asset, index = _amount(p, "asset"), p.get("index")
    if not isinstance(index, int) or index < 0:
        raise InvalidInput(f"index must be a valuation index, got {index!r}")
    return (
        platform.contract("AssetRegistry"),
        "acceptValuation",
        [asset, index],
        f"accept valuation {index} of asset {asset}",
    )


def _tokenize(platform: Platform, p: dict[str, Any]) -> tuple[Bound, str, list[Any], str]:
    asset = _amount(p, "asset")
    rules = TokenRules(
        eligible_categories=frozenset(
            InvestorCategory.parse(c)
            for c in p.get("eligible_categories", [c.name.lower() for c in InvestorCategory])
        ),
        foreign_cap_bps=int(p.get("foreign_cap_bps", 10_000)),
        max_holders=int(p.get("max_holders", 0)),
        lockup_until=int(p.get("lockup_until", 0)),
        country_mode=str(p.get("country_mode", "none")),
        countries=tuple(parse_country(c) for c in p.get("countries", [])),
        holding_cap=int(p.get("holding_cap", 0)),
        minimum_holding=int(p.get("minimum_holding", 0)),
    )
    args = tokens.tokenize_args(
        asset, _text(p, "name"), _text(p, "symbol"), int(p.get("decimals", 0)), rules
    )
    return (
        platform.contract("TokenFactory"),
        "createToken",
        args,
        f"tokenize asset {asset} as {p['symbol']}",
    )


ISSUER = frozenset({Role.ISSUER})
AGENT = frozenset({Role.AGENT})
KINDS: dict[str, Kind] = {
    "mint": Kind(ISSUER, _mint),
    "burn": Kind(ISSUER, _burn),
    "approve_asset": Kind(ISSUER, _asset_status(AssetStatus.APPROVED)),
    "redeem_asset": Kind(ISSUER, _asset_status(AssetStatus.REDEEMED)),
    "retire_asset": Kind(ISSUER, _asset_status(AssetStatus.RETIRED)),
    "accept_valuation": Kind(ISSUER, _accept_valuation),
    "tokenize": Kind(ISSUER, _tokenize),
    "forced_transfer": Kind(AGENT, _forced, evidence=True),
    "freeze": Kind(AGENT, _freeze(True), evidence=True),
    "unfreeze": Kind(AGENT, _freeze(False), evidence=True),
    "freeze_tokens": Kind(AGENT, _partial("freezePartialTokens"), evidence=True),
    "unfreeze_tokens": Kind(AGENT, _partial("unfreezePartialTokens"), evidence=True),
    "recover": Kind(AGENT, _recover, evidence=True),
    "pause": Kind(AGENT, _pause("pause")),
    "unpause": Kind(AGENT, _pause("unpause")),
}


def _now() -> datetime:
    return datetime.now(UTC)


def view(request: ActionRequest, decisions: list[ActionDecision]) -> dict[str, Any]:
    return {
        "id": request.id,
        "kind": request.kind,
        "summary": request.summary,
        "target": request.target,
        "function": request.function,
        "arguments": request.arguments,
        "evidence": request.evidence,
        "proposal_id": request.proposal_id,
        "proposed_by": request.proposed_by,
        "status": request.status,
        "created_at": request.created_at.isoformat(),
        "decisions": [
            {
                "user_id": d.user_id,
                "decision": d.decision,
                "reason": d.reason,
                "tx": d.tx_hash,
                "at": d.at.isoformat(),
            }
            for d in decisions
        ],
    }


def create(
    platform: Platform, maker: Principal, kind: str, params: dict[str, Any], evidence: str | None
) -> dict[str, Any]:
    """File a request (nothing goes on chain until an approver approves it)."""
    if kind not in KINDS:
        raise InvalidInput(f"unknown action kind {kind!r} (one of: {', '.join(sorted(KINDS))})")
    spec = KINDS[kind]
    if maker.role not in spec.makers:
        raise Forbidden(f"a {maker.role.value} may not request {kind}", role=maker.role.value)
    if spec.evidence and not evidence:
        raise InvalidInput(
            f"{kind} must cite its legal basis: give the evidence document's SHA-256"
        )
    evidence_bytes = governance.parse_evidence(evidence)
    target, function, args, summary = spec.build(platform, params)
    with platform.store.session() as session, session.begin():
        request = ActionRequest(
            kind=kind,
            target=target.address,
            function=function,
            arguments=params,
            evidence="0x" + evidence_bytes.hex() if evidence else None,
            summary=summary,
            proposal_id=None,
            proposed_by=maker.user_id,
            status="pending-approvals",
            created_at=_now(),
        )
        session.add(request)
        session.flush()
        return view(request, [])


def get(platform: Platform, request_id: int) -> dict[str, Any]:
    with platform.store.session() as session:
        request = session.get(ActionRequest, request_id)
        if request is None:
            raise NotFound(f"no approval request {request_id}", request=request_id)
        decisions = list(
            session.scalars(select(ActionDecision).where(ActionDecision.request_id == request_id))
        )
        return view(request, decisions)


def list_requests(platform: Platform, status: str | None = None) -> list[dict[str, Any]]:
    with platform.store.session() as session:
        query = select(ActionRequest).order_by(ActionRequest.id)
        if status:
            query = query.where(ActionRequest.status == status)
        requests = list(session.scalars(query))
        decisions = list(session.scalars(select(ActionDecision)))
    return [view(r, [d for d in decisions if d.request_id == r.id]) for r in requests]


def _rebuild(platform: Platform, request: ActionRequest) -> tuple[Bound, str, list[Any]]:
    target, function, args, _ = KINDS[request.kind].build(platform, dict(request.arguments))
    return target, function, args


def approve(platform: Platform, approver: Principal, request_id: int) -> dict[str, Any]:
    """Approve with the approver's own key; executes when the threshold and timelock allow."""
    if approver.role is not Role.APPROVER or not approver.key_name:
        raise Forbidden("only approvers with a signing key may approve", role=approver.role.value)
    with platform.store.session() as session, session.begin():
        request = session.get(ActionRequest, request_id, with_for_update=True)
        if request is None:
            raise NotFound(f"no approval request {request_id}", request=request_id)
        if request.proposed_by == approver.user_id:
            raise Forbidden("a maker cannot approve their own request", request=request_id)
        if request.status != "pending-approvals":
            raise RuleViolation(
                "not-pending", f"request {request_id} is {request.status}", status=request.status
            )
        already = session.scalar(
            select(ActionDecision).where(
                ActionDecision.request_id == request_id, ActionDecision.user_id == approver.user_id
            )
        )
        if already is not None:
            raise RuleViolation("already-decided", f"you already decided request {request_id}")
        if request.proposal_id is None:
            target, function, args = _rebuild(platform, request)
            request.proposal_id = governance.propose(
                platform,
                approver.key_name,
                target,
                function,
                args,
                request.evidence,
                idempotency_key=f"request-{request.id}-propose",
            )
            proposal = governance.show(platform, request.proposal_id)
        else:
            proposal = governance.approve(platform, approver.key_name, request.proposal_id)
        session.add(
            ActionDecision(
                request_id=request_id,
                user_id=approver.user_id,
                decision="approve",
                reason=None,
                tx_hash=None,
                at=_now(),
            )
        )
        request.status = _status_after(platform, approver, proposal)
    return get(platform, request_id)


def _status_after(
    platform: Platform, approver: Principal, proposal: governance.ProposalView
) -> str:
    if proposal.state == "ready":
        assert approver.key_name is not None
        governance.execute(platform, approver.key_name, proposal.id)
        return "executed"
    if proposal.state == "waiting-timelock":
        return "waiting-timelock"
    if proposal.state == "executed":
        return "executed"
    return "pending-approvals"


def execute(platform: Platform, approver: Principal, request_id: int) -> dict[str, Any]:
    """Run a request whose timelock has passed."""
    if approver.role is not Role.APPROVER or not approver.key_name:
        raise Forbidden("only approvers may execute", role=approver.role.value)
    with platform.store.session() as session, session.begin():
        request = session.get(ActionRequest, request_id, with_for_update=True)
        if request is None:
            raise NotFound(f"no approval request {request_id}", request=request_id)
        if request.status != "waiting-timelock" or request.proposal_id is None:
            raise RuleViolation(
                "not-ready", f"request {request_id} is {request.status}", status=request.status
            )
        governance.execute(platform, approver.key_name, request.proposal_id)
        request.status = "executed"
    return get(platform, request_id)


def reject(platform: Platform, approver: Principal, request_id: int, reason: str) -> dict[str, Any]:
    """Refuse a request; an on-chain proposal is cancelled if this approver created it."""
    if approver.role is not Role.APPROVER:
        raise Forbidden("only approvers may reject", role=approver.role.value)
    if not reason.strip():
        raise InvalidInput("a rejection needs a reason")
    with platform.store.session() as session, session.begin():
        request = session.get(ActionRequest, request_id, with_for_update=True)
        if request is None:
            raise NotFound(f"no approval request {request_id}", request=request_id)
        if request.proposed_by == approver.user_id:
            raise Forbidden("a maker cannot decide their own request", request=request_id)
        if request.status not in ("pending-approvals", "waiting-timelock"):
            raise RuleViolation(
                "not-pending", f"request {request_id} is {request.status}", status=request.status
            )
        already = session.scalar(
            select(ActionDecision).where(
                ActionDecision.request_id == request_id, ActionDecision.user_id == approver.user_id
            )
        )
        if already is not None:
            raise RuleViolation("already-decided", f"you already decided request {request_id}")
        if request.proposal_id is not None and approver.key_name:
            proposal = governance.show(platform, request.proposal_id)
            if proposal.proposer.lower() == platform.address_of(approver.key_name).lower():
                governance.cancel(platform, approver.key_name, request.proposal_id)
        session.add(
            ActionDecision(
                request_id=request_id,
                user_id=approver.user_id,
                decision="reject",
                reason=reason,
                tx_hash=None,
                at=_now(),
            )
        )
        request.status = "rejected"
    return get(platform, request_id)
