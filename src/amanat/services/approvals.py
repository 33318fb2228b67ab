"""Maker-checker: a privileged action requested by one user runs only after M other approvers.

The maker (issuer, agent) files a request with its evidence. Approvers decide with their own keys:
the first approval creates the on-chain Governance proposal (which counts as that approver's
approval), later ones approve it on chain. When the threshold is met and the action's timelock
has passed, the proposal is executed. The maker can never approve their own request.

Besides token and asset actions, the kinds cover the instrument lifecycle: issuing cash against a
deposit, settling an auction at a cut-off yield, declaring a distribution to the holders of
record, releasing a held payout and marking a token matured. Each is checked when it is filed
and rebuilt from the chain when the first approver proposes it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from amanat.domain.assets import AssetStatus
from amanat.domain.auction import parse_yield
from amanat.domain.governance import affects_holder_property, plain_arguments
from amanat.domain.identity import InvestorCategory, parse_country
from amanat.domain.money import format_pkr
from amanat.domain.rules import TokenRules
from amanat.errors import AmanatError, InvalidInput, NotFound, OwnKeyRequired, RuleViolation
from amanat.services import assets, auctions, cash, distributions, governance, inputs, tokens
from amanat.services.accounts import Principal, Role
from amanat.services.governed_calls import utc
from amanat.services.platform import Bound, Platform, Prepared
from amanat.store.models import ActionDecision, ActionRequest

if TYPE_CHECKING:
    from amanat.chain.client import Receipt


class Forbidden(RuleViolation):
    exit_code = 4

    def __init__(self, message: str, **values: Any) -> None:
        super().__init__("forbidden", message, **values)


Build = Callable[[Platform, dict[str, Any]], tuple[Bound, str, list[Any], str]]


@dataclass(frozen=True)
class Kind:
    makers: frozenset[Role]
    build: Build
    evidence: bool = False
    # Fixes time-dependent parameters when the request is filed (a record date becomes its
    # block), so that every approver's rebuild proposes the same call.
    prepare: Callable[[Platform, dict[str, Any]], dict[str, Any]] | None = None


def _amount(params: dict[str, Any], name: str = "amount") -> int:
    """A positive integer no larger than any face accepts (the API's and the store's cap)."""
    value = params.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise InvalidInput(f"{name} must be a positive integer, got {value!r}")
    if value > inputs.MAX_AMOUNT:
        raise InvalidInput(f"{name} must be at most {inputs.MAX_AMOUNT}, got {value}")
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


def _freeze(freeze: bool) -> Build:
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


def _partial(function: str) -> Build:
    def build(platform: Platform, p: dict[str, Any]) -> tuple[Bound, str, list[Any], str]:
        token, wallet, amount = _token(platform, p), _wallet(platform, p, "wallet"), _amount(p)
        return (
            token,
            function,
            [wallet, amount],
            f"{function} {amount} of {wallet} on {token.read('symbol')}",
        )

    return build


def _pause(function: str) -> Build:
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


def _asset_status(status: AssetStatus) -> Build:
    def build(platform: Platform, p: dict[str, Any]) -> tuple[Bound, str, list[Any], str]:
        asset = assets.require_asset(platform, _amount(p, "asset"))
        return (
            platform.contract("AssetRegistry"),
            "setStatus",
            [asset, int(status)],
            f"mark asset {asset} {status.label}",
        )

    return build


def _accept_valuation(platform: Platform, p: dict[str, Any]) -> tuple[Bound, str, list[Any], str]:
    asset, index = assets.require_asset(platform, _amount(p, "asset")), p.get("index")
    if not isinstance(index, int) or index < 0:
        raise InvalidInput(f"index must be a valuation index, got {index!r}")
    return (
        platform.contract("AssetRegistry"),
        "acceptValuation",
        [asset, index],
        f"accept valuation {index} of asset {asset}",
    )


def _tokenize(platform: Platform, p: dict[str, Any]) -> tuple[Bound, str, list[Any], str]:
    asset = assets.require_asset(platform, _amount(p, "asset"))
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
        asset,
        _text(p, "name"),
        _text(p, "symbol"),
        int(p.get("decimals", 0)),
        rules,
        _count(p, "maturity") if "maturity" in p else 0,
    )
    return (
        platform.contract("TokenFactory"),
        "createToken",
        args,
        f"tokenize asset {asset} as {p['symbol']}",
    )


# ---------------------------------------------------------- the instrument lifecycle


def _count(params: dict[str, Any], name: str) -> int:
    value = params.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise InvalidInput(f"{name} must be a whole number, got {value!r}")
    return value


def _issue_cash(platform: Platform, p: dict[str, Any]) -> tuple[Bound, str, list[Any], str]:
    token, wallet = platform.contract("CashToken"), _wallet(platform, p, "to")
    amount = _amount(p, "amount_minor")
    reference = _text(p, "reference")
    if not token.read("mayHold", wallet):
        raise RuleViolation(
            "may-not-hold-cash",
            f"{wallet} is not a verified institution, the treasury or an agent: it may not hold "
            "cash",
            wallet=wallet,
        )
    return (
        token,
        "issueCash",
        [wallet, amount, bytes.fromhex(cash.reference_hash(reference)[2:])],
        f"issue {format_pkr(amount)} {token.read('symbol')} to {wallet} against deposit "
        f"{reference.strip()}",
    )


def _settle_auction(platform: Platform, p: dict[str, Any]) -> tuple[Bound, str, list[Any], str]:
    auction_id, days, cutoff = (
        _amount(p, "auction"),
        _amount(p, "days"),
        parse_yield(_text(p, "cutoff")),
    )
    if auctions.show(platform, auction_id)["settled"]:
        raise RuleViolation(
            "auction-settled", f"auction {auction_id} is already settled", auction=auction_id
        )
    arguments, rows = auctions.settlement(platform, auction_id, cutoff, days)
    allotted = [r for r in rows if r["units"]]
    return (
        platform.contract("Auction"),
        "settle",
        arguments,
        f"settle auction {auction_id} at cut-off {cutoff:.2%} ({days} days): "
        f"{sum(r['units'] for r in allotted):,} units to {len(allotted)} of {len(rows)} bidders "
        f"for {format_pkr(sum(r['payment_minor'] for r in allotted))}",
    )


def _record_block(platform: Platform, p: dict[str, Any]) -> dict[str, Any]:
    """A record date becomes the last block at or before it: a date ('2027-03-31') means the end
    of that UTC day, a date-time that moment (UTC unless it carries an offset)."""
    if ("record_block" in p) == ("record_date" in p):
        raise InvalidInput("give either a record block or a record date")
    if "record_block" in p:
        return p
    text = _text(p, "record_date").strip()
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"record date {text!r} is not a date or an ISO date-time") from None
    if len(text) == 10:
        moment = moment.replace(hour=23, minute=59, second=59)
    when = int((moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp())
    now = platform.clock.chain_time()
    if when > now:
        raise RuleViolation(
            "record-date-future",
            f"record date {text} is after the chain's time {datetime.fromtimestamp(now, UTC)}: "
            "the holders of record are not known yet",
        )
    return {**p, "record_block": distributions.record_block_for(platform, when)}


def _declare(platform: Platform, p: dict[str, Any]) -> tuple[Bound, str, list[Any], str]:
    token, total = _token(platform, p), _amount(p, "total_minor")
    kind = distributions.parse_kind(_text(p, "kind"))
    function, arguments, plan = distributions.declaration(
        platform, token, kind, total, _count(p, "record_block")
    )
    return (
        platform.contract("Distributor"),
        function,
        arguments,
        f"declare {plan['kind']} of {plan['total']} on {plan['symbol']} to {plan['holders']} "
        f"holders of record at block {plan['record_block']} (payout root {plan['root']})",
    )


def _release_held(platform: Platform, p: dict[str, Any]) -> tuple[Bound, str, list[Any], str]:
    distribution_id, holder = _amount(p, "distribution"), _wallet(platform, p, "holder")
    receiver = _wallet(platform, p, "to") if p.get("to") else holder
    distributor = platform.contract("Distributor")
    distributions.show(platform, distribution_id)  # exists
    held = distributor.read("held", distribution_id, holder)
    if not held:
        raise RuleViolation(
            "nothing-held",
            f"nothing is held for {holder} in distribution {distribution_id}",
            distribution=distribution_id,
        )
    function, args = distributions.release_call(distribution_id, holder, receiver)
    return (
        distributor,
        function,
        args,
        f"release {format_pkr(held)} held for {holder} in distribution {distribution_id} "
        f"to {receiver}",
    )


def _mature(platform: Platform, p: dict[str, Any]) -> tuple[Bound, str, list[Any], str]:
    token = _token(platform, p)
    if token.read("matured"):
        raise RuleViolation("matured", f"{token.read('symbol')} has already matured")
    return token, "markMatured", [], f"mark {token.read('symbol')} matured (only redemption left)"


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
    "issue_cash": Kind(ISSUER, _issue_cash),
    "settle_auction": Kind(ISSUER, _settle_auction),
    "declare_distribution": Kind(ISSUER, _declare, prepare=_record_block),
    "release_held": Kind(ISSUER | AGENT, _release_held),
    "mature_token": Kind(ISSUER, _mature, evidence=True),
}


def _utc_iso(moment: datetime) -> str:
    """RFC 3339 with its offset: SQLite gives back the stored UTC times without one."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.isoformat()


def view(request: ActionRequest, decisions: list[ActionDecision]) -> dict[str, Any]:
    return {
        "id": request.id,
        "kind": request.kind,
        "summary": request.summary,
        "target": request.target,
        "function": request.function,
        "arguments": request.arguments,
        "call_arguments": request.call_arguments,
        "evidence": request.evidence,
        "proposal_id": request.proposal_id,
        "proposed_by": request.proposed_by,
        "status": request.status,
        "created_at": _utc_iso(request.created_at),
        "executed_by": request.executed_by,
        "executed_tx": request.executed_tx,
        "decisions": [
            {
                "user_id": d.user_id,
                "decision": d.decision,
                "reason": d.reason,
                "tx": d.tx_hash,
                "at": _utc_iso(d.at),
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
    if spec.prepare is not None:
        params = spec.prepare(platform, params)
    target, function, args, summary = spec.build(platform, params)
    if not evidence and affects_holder_property(function):
        raise InvalidInput(
            f"{kind} ({function}) affects a holder's property and requires an evidence hash: "
            "give the evidence document's SHA-256"
        )
    with platform.store.session() as session, session.begin():
        request = ActionRequest(
            kind=kind,
            target=target.address,
            function=function,
            arguments=params,
            call_arguments=plain_arguments(args),
            evidence="0x" + evidence_bytes.hex() if evidence else None,
            summary=summary,
            proposal_id=None,
            proposed_by=maker.user_id,
            status="pending-approvals",
            created_at=platform.clock.wall_time(),
        )
        session.add(request)
        session.flush()
        return view(request, [])


def get(platform: Platform, request_id: int) -> dict[str, Any]:
    inputs.known_id(request_id, "approval request")
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


def _claim(session: Session, request_id: int) -> ActionRequest:
    """The request, locked for this decision until the transaction ends.

    The lock is taken by a write (a no-op update) before anything is read: on PostgreSQL it
    holds the row, on SQLite the database's write lock. Decisions on one request are therefore
    serialized, each seeing the one before it, so the database and the chain stay in step."""
    inputs.known_id(request_id, "approval request")
    claimed = session.execute(
        update(ActionRequest)
        .where(ActionRequest.id == request_id)
        .values(status=ActionRequest.status)
        .execution_options(synchronize_session=False)
    )
    request = session.get(ActionRequest, request_id, populate_existing=True)
    if claimed.rowcount != 1 or request is None:  # type: ignore[attr-defined]
        raise NotFound(f"no approval request {request_id}", request=request_id)
    return request


def require_server_key(platform: Platform, approver: Principal, verb: str) -> None:
    """On a network deployment the platform never signs for an official: it approves with its
    own key on its own machine, and the request records that transaction."""
    command = "execute" if verb == "execute" else "approve"
    if not platform.settings.embedded:
        raise OwnKeyRequired(
            f"on a network deployment the platform holds no official's key and does not {verb} "
            f"for {approver.username}: sign it yourself (`amanat --api URL --as "
            f"{approver.username} proposal {command} PROPOSAL --key YOUR-KEY.json`, or POST "
            f"/transactions/build with action proposal_{command}, then POST /transactions)",
            user=approver.username,
        )


def require_not_rejected(platform: Platform, proposal_id: int) -> None:
    """Refuse an official's own approval or execute of a proposal whose maker-checker request
    was rejected: its proposal may stay open on chain (only its proposer cancels it), but
    Amanat takes no more approvals for it, as the server-signed approval does not."""
    with platform.store.session() as session:
        request = session.scalar(
            select(ActionRequest).where(ActionRequest.proposal_id == proposal_id)
        )
        if request is not None and request.status == "rejected":
            raise RuleViolation(
                "request-rejected",
                f"proposal {proposal_id} carries request {request.id}, which was rejected: "
                "it is approved and executed no further",
                request=request.id,
                proposal=proposal_id,
            )


def _claim_carrier(session: Session, proposal_id: int) -> ActionRequest | None:
    """The request that carries proposal `proposal_id`, claimed (see `_claim`), or None."""
    request_id = session.scalar(
        select(ActionRequest.id).where(ActionRequest.proposal_id == proposal_id)
    )
    return None if request_id is None else _claim(session, request_id)


def record_chain_approval(
    platform: Platform, approver: Principal, proposal_id: int, tx_hash: str
) -> int | None:
    """Record an official's own on-chain approval (transaction `tx_hash`, already confirmed) as
    its decision on the request that proposal `proposal_id` carries; returns the request's id,
    or None when no request carries that proposal. The same transaction again records nothing
    more."""
    with platform.store.session() as session, session.begin():
        request = _claim_carrier(session, proposal_id)
        if request is None:
            return None
        request_id = request.id
        already = session.scalar(
            select(ActionDecision).where(
                ActionDecision.request_id == request_id, ActionDecision.user_id == approver.user_id
            )
        )
        if already is not None:
            return request_id
        session.add(_approval_decision(platform, request_id, approver, tx_hash))
        if request.status == "pending-approvals":
            request.status = _status_signed(governance.show(platform, proposal_id).state)
        return request_id


def record_chain_execution(
    platform: Platform, official: Principal, proposal_id: int, tx_hash: str
) -> int | None:
    """Record an official's own execution of proposal `proposal_id` (transaction `tx_hash`,
    already confirmed) on the request that carries it; returns the request's id, or None when
    no request carries that proposal. The same transaction again changes nothing."""
    with platform.store.session() as session, session.begin():
        request = _claim_carrier(session, proposal_id)
        if request is None:
            return None
        request_id = request.id
        if request.executed_tx is None:
            _record_execution(request, official, tx_hash)
        return request_id


def _record_execution(request: ActionRequest, official: Principal, tx_hash: str) -> None:
    request.status = "executed"
    request.executed_by = official.user_id
    request.executed_tx = tx_hash


def prepare_own_execution(
    platform: Platform, official: Principal, request_id: int, address: str
) -> Prepared:
    """What official `official` signs, from its governance address `address`, to execute the
    request's proposal (checked as a server-signed execution is: the request waits for it and
    its proposal is ready). Submitted to POST /transactions, which records it on the request."""
    if official.role is not Role.APPROVER:
        raise Forbidden("only approvers may execute", role=official.role.value)
    inputs.known_id(request_id, "approval request")
    with platform.store.session() as session:
        request = session.get(ActionRequest, request_id)
        if request is None:
            raise NotFound(f"no approval request {request_id}", request=request_id)
        proposal_id = _executable(request)
    return governance.prepare_execute(platform, address, proposal_id)


def _executable(request: ActionRequest) -> int:
    """The proposal of a request that waits to be executed; refused for any other request."""
    if request.status != "waiting-timelock" or request.proposal_id is None:
        raise RuleViolation(
            "not-ready", f"request {request.id} is {request.status}", status=request.status
        )
    return request.proposal_id


def _approval_decision(
    platform: Platform, request_id: int, approver: Principal, tx_hash: str | None
) -> ActionDecision:
    """Approver `approver`'s approval of the request, now (wall time), by its transaction when
    the approver signed it itself."""
    return ActionDecision(
        request_id=request_id,
        user_id=approver.user_id,
        decision="approve",
        reason=None,
        tx_hash=tx_hash,
        at=platform.clock.wall_time(),
    )


def _check_decider(
    platform: Platform, session: Session, approver: Principal, request: ActionRequest
) -> None:
    """An approver may approve a request it did not file, that is pending (or waiting out a
    timelock though it no longer has its approvals), once."""
    if request.proposed_by == approver.user_id:
        raise Forbidden("a maker cannot approve their own request", request=request.id)
    if request.status != "pending-approvals" and not _short_of_approvals(platform, request):
        raise RuleViolation(
            "not-pending", f"request {request.id} is {request.status}", status=request.status
        )
    already = session.scalar(
        select(ActionDecision).where(
            ActionDecision.request_id == request.id, ActionDecision.user_id == approver.user_id
        )
    )
    if already is not None:
        raise RuleViolation("already-decided", f"you already decided request {request.id}")


def _own_approval(platform: Platform, request: ActionRequest, official: str) -> Prepared:
    """The transaction with which official `official` (an address) approves the request: the
    proposal of its call (the first approval) or the approval of its proposal."""
    if request.proposal_id is None:
        target, function, args = _rebuild(platform, request)
        return governance.prepare_propose(
            platform, official, target, function, args, request.evidence
        )
    return governance.prepare_approve(platform, official, request.proposal_id)


def prepare_own_approval(
    platform: Platform, approver: Principal, request_id: int, official: str
) -> Prepared:
    """What approver `approver` signs, from its governance address `official`, to approve the
    request itself (checked as a server-signed approval is)."""
    if approver.role is not Role.APPROVER:
        raise Forbidden("only approvers may approve", role=approver.role.value)
    inputs.known_id(request_id, "approval request")
    with platform.store.session() as session:
        request = session.get(ActionRequest, request_id)
        if request is None:
            raise NotFound(f"no approval request {request_id}", request=request_id)
        _check_decider(platform, session, approver, request)
        return _own_approval(platform, request, official)


def submit_own_approval(
    platform: Platform,
    approver: Principal,
    request_id: int,
    official: str,
    tx_hash: str,
    send: Callable[[Prepared], Receipt],
) -> dict[str, Any]:
    """Record approver `approver`'s own signed approval of the request (transaction `tx_hash`):
    checked as a server-signed one, sent by `send` (which checks the signed transaction is
    `Prepared`'s) while the request is held, so that two first approvals never propose twice.
    The same transaction again returns the request as recorded; one sent but not recorded (the
    store failed) is recorded from its receipt."""
    if approver.role is not Role.APPROVER:
        raise Forbidden("only approvers may approve", role=approver.role.value)
    with platform.store.session() as session, session.begin():
        request = _claim(session, request_id)
        recorded = session.scalar(
            select(ActionDecision.id).where(
                ActionDecision.request_id == request_id,
                ActionDecision.user_id == approver.user_id,
                ActionDecision.tx_hash == tx_hash,
            )
        )
        if recorded is None:
            _refuse_replay(session, request_id, tx_hash)
            _record_own_approval(platform, session, approver, request, official, send)
    return get(platform, request_id)


def _refuse_replay(session: Session, request_id: int, tx_hash: str) -> None:
    """Refuse a signed approval already recorded on another request: two requests for the same
    call build the same proposal transaction, and its bytes again return its first receipt."""
    other = session.scalar(
        select(ActionDecision.request_id).where(
            ActionDecision.tx_hash == tx_hash, ActionDecision.request_id != request_id
        )
    )
    if other is not None:
        raise RuleViolation(
            "tx-replayed",
            f"transaction {tx_hash} is already recorded as an approval of request {other}: build "
            f"request {request_id}'s own with POST /transactions/build (action request_approve)",
            request=request_id,
            recorded_on=other,
        )


def _record_own_approval(
    platform: Platform,
    session: Session,
    approver: Principal,
    request: ActionRequest,
    official: str,
    send: Callable[[Prepared], Receipt],
) -> None:
    """Check, send and record an official's own approval of the claimed request."""
    _check_decider(platform, session, approver, request)
    prepared = _own_approval(platform, request, official)
    receipt = send(prepared)
    result = prepared.finish(receipt)
    if request.proposal_id is None:
        bound = session.scalar(
            select(ActionRequest.id).where(ActionRequest.proposal_id == result["proposal"])
        )
        if bound is not None:  # a proposal sent for another request, its bytes replayed here
            raise RuleViolation(
                "tx-replayed",
                f"transaction {receipt.tx_hash} proposed proposal {result['proposal']}, which "
                f"request {bound} carries: build request {request.id}'s own with POST "
                "/transactions/build (action request_approve)",
                request=request.id,
                recorded_on=bound,
            )
        request.proposal_id = result["proposal"]
    session.add(_approval_decision(platform, request.id, approver, receipt.tx_hash))
    request.status = _status_signed(result["state"])


def _status_signed(state: str) -> str:
    """A request's status after an official's own approval: the platform executes nothing for
    it, so a proposal ready to run is still waiting for an official to execute it."""
    return {
        "ready": "waiting-timelock",
        "waiting-timelock": "waiting-timelock",
        "executed": "executed",
    }.get(state, "pending-approvals")


def approve(platform: Platform, approver: Principal, request_id: int) -> dict[str, Any]:
    """Approve with the approver's own key; executes when the threshold and timelock allow."""
    if approver.role is not Role.APPROVER or not approver.key_name:
        raise Forbidden("only approvers with a signing key may approve", role=approver.role.value)
    require_server_key(platform, approver, "approve")
    refusal: AmanatError | None = None
    with platform.store.session() as session, session.begin():
        request = _claim(session, request_id)
        _check_decider(platform, session, approver, request)
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
        session.add(_approval_decision(platform, request_id, approver, None))
        request.status = _status_after(proposal)
        if proposal.state == "ready":
            # The approval is on chain: it is recorded even if the execution is refused, and
            # the request then waits to be executed (the database and the chain agree).
            request.status = "waiting-timelock"
            try:
                _execute_with_server_key(platform, approver, request)
            except AmanatError as refused:
                refusal = refused
    if refusal is not None:
        refusal.message = (
            f"your approval of request {request_id} is recorded; executing it was refused: "
            f"{refusal.message}"
        )
        refusal.args = (refusal.message,)
        raise refusal
    return get(platform, request_id)


def _execute_with_server_key(
    platform: Platform, approver: Principal, request: ActionRequest
) -> None:
    """Execute the request's proposal with the approver's key the platform holds and record
    the execution (embedded development keys only: `require_server_key`)."""
    assert approver.key_name is not None and request.proposal_id is not None
    signer = platform.signer(approver.key_name)
    prepared = governance.prepare_execute(platform, signer.address, request.proposal_id)
    _record_execution(request, approver, platform.send(signer, prepared)["tx"])


def _status_after(proposal: governance.ProposalView) -> str:
    if proposal.state == "waiting-timelock":
        return "waiting-timelock"
    if proposal.state == "executed":
        return "executed"
    return "pending-approvals"


def execute(platform: Platform, approver: Principal, request_id: int) -> dict[str, Any]:
    """Run a request whose timelock has passed."""
    if approver.role is not Role.APPROVER or not approver.key_name:
        raise Forbidden("only approvers may execute", role=approver.role.value)
    require_server_key(platform, approver, "execute")
    refusal: RuleViolation | None = None
    with platform.store.session() as session, session.begin():
        request = _claim(session, request_id)
        proposal_id = _executable(request)
        try:
            _execute_with_server_key(platform, approver, request)
        except RuleViolation as refused:
            # an official was removed or the threshold raised since the approvals
            if refused.rule == "approvals":  # the request collects approvals again
                request.status = "pending-approvals"
                refusal = refused
            elif refused.rule == "timelock-restart":  # it still has them: wait out a new timelock
                view = governance.restart_timelock(platform, approver.key_name, proposal_id)
                refusal = RuleViolation(
                    "timelock",
                    f"request {request_id}: an official was removed or the threshold raised "
                    f"since its timelock started; its timelock was restarted (proposal "
                    f"{view.id}): executable from {utc(view.ready_at)} (chain time)",
                    ready_at=view.ready_at,
                )
            else:
                raise
    if refusal is not None:
        raise refusal
    return get(platform, request_id)


def _short_of_approvals(platform: Platform, request: ActionRequest) -> bool:
    """Whether a request waiting out its timelock no longer has its approvals: an approving
    official was removed, or the threshold raised, since (Governance counts current officials'
    approvals only). Such a request takes approvals again."""
    return (
        request.status == "waiting-timelock"
        and request.proposal_id is not None
        and governance.show(platform, request.proposal_id).state == "collecting-approvals"
    )


def reject(platform: Platform, approver: Principal, request_id: int, reason: str) -> dict[str, Any]:
    """Refuse a request; an on-chain proposal is cancelled if this approver created it."""
    if approver.role is not Role.APPROVER:
        raise Forbidden("only approvers may reject", role=approver.role.value)
    if not reason.strip():
        raise InvalidInput("a rejection needs a reason")
    with platform.store.session() as session, session.begin():
        request = _claim(session, request_id)
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
                require_server_key(platform, approver, "cancel a proposal")
                governance.cancel(platform, approver.key_name, request.proposal_id)
        session.add(
            ActionDecision(
                request_id=request_id,
                user_id=approver.user_id,
                decision="reject",
                reason=reason,
                tx_hash=None,
                at=platform.clock.wall_time(),
            )
        )
        request.status = "rejected"
    return get(platform, request_id)
