"""Console pages of governance: the maker-checker requests (file, approve, reject, execute, with
the reason a button is disabled) and the on-chain proposals' history in words."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import File, Form, Request, UploadFile
from fastapi.responses import Response
from sqlalchemy import select

from amanat.api.problems import status_of
from amanat.domain.auction import parse_yield
from amanat.domain.money import parse_pkr
from amanat.errors import AmanatError, InvalidInput, NotFound, RuleViolation
from amanat.services import (
    access,
    approvals,
    assets,
    auctions,
    distributions,
    governance,
    identities,
)
from amanat.services.accounts import Principal, Role
from amanat.services.approvals import Forbidden
from amanat.services.platform import Platform
from amanat.store.models import User
from amanat.web import session as sessions
from amanat.web.console.common import (
    Posted,
    Session,
    act,
    area_router,
    can_read_documents,
    explain,
    form_options,
    page,
    positive,
    redirect,
    stored_documents,
)
from amanat.web.session import PREFIX, Console

router = area_router()

# ----------------------------------------------------------------- approvals


@dataclass(frozen=True)
class Button:
    enabled: bool
    reason: str = ""


@dataclass(frozen=True)
class FormKind:
    title: str
    fields: tuple[str, ...]


# What the console offers to file (the API offers every kind in approvals.KINDS).
FORM_KINDS: dict[str, FormKind] = {
    "mint": FormKind("Mint tokens to an institution", ("token", "to", "amount")),
    "burn": FormKind("Burn tokens held by a wallet", ("token", "wallet", "amount")),
    "freeze": FormKind("Freeze a wallet on a token", ("token", "wallet")),
    "unfreeze": FormKind("Unfreeze a wallet on a token", ("token", "wallet")),
    "pause": FormKind("Pause all transfers of a token", ("token",)),
    "unpause": FormKind("Resume transfers of a token", ("token",)),
    "issue_cash": FormKind(
        "Issue cash (PKRT) against a deposit", ("to", "amount_pkr", "reference")
    ),
    "declare_distribution": FormKind(
        "Declare a coupon, rent, dividend or redemption",
        ("token", "distribution_kind", "total_pkr", "record_date"),
    ),
    "release_held": FormKind("Release a held payout", ("distribution", "holder")),
    "mature_token": FormKind("Mark a token matured (only redemption remains)", ("token",)),
}
NOTICES = {
    "filed": "Request {id} filed. It needs approvals before anything happens on chain.",
    "approved": "You approved request {id}.",
    "rejected": "You rejected request {id}.",
    "executed": "Request {id} was executed on chain.",
}


def _usernames(platform: Platform) -> dict[int, str]:
    with platform.store.session() as session:
        return {row.id: row.username for row in session.execute(select(User.id, User.username))}


OWN_KEY_ONLY = (
    "On a network deployment the platform holds no official's key: approve or execute with "
    "your own key, signed on your own machine (the command is on the request's page)."
)


def _actions(
    who: Principal,
    item: dict[str, Any],
    detail: governance.ProposalDetail | None,
    embedded: bool = True,
) -> dict[str, Button]:
    """Which decision buttons this user sees on a request, enabled or with the reason why not.
    The buttons sign with the approver's key held by the server: on the embedded pilot its
    development key; on a network deployment they are disabled (approvals.require_server_key)."""
    proposal = detail.view if detail else None
    mine = item["proposed_by"] == who.user_id
    status = item["status"]
    if status not in ("pending-approvals", "waiting-timelock"):
        return {}
    if mine:
        return {
            "approve": Button(
                False, "You filed this request: a maker cannot approve their own request."
            )
        }
    if who.role is not Role.APPROVER:
        return {}
    decided = next((d for d in item["decisions"] if d["user_id"] == who.user_id), None)
    expired = proposal is not None and proposal.state == "expired"
    buttons: dict[str, Button] = {}
    if status == "pending-approvals":
        if decided:
            buttons["approve"] = Button(
                False, f"You already decided this request ({decided['decision']})."
            )
        elif expired:
            buttons["approve"] = Button(False, "The on-chain proposal has expired.")
        else:
            buttons["approve"] = Button(True)
    if status == "waiting-timelock" and detail is not None:
        if detail.view.state == "ready":
            buttons["execute"] = Button(True)
        elif expired:
            buttons["execute"] = Button(False, "The on-chain proposal has expired.")
        else:
            buttons["execute"] = Button(False, f"Timelock: {detail.timelock}.")
    buttons["reject"] = (
        Button(False, "You already decided this request.") if decided else Button(True)
    )
    if not embedded:
        for name in ("approve", "execute"):
            if name in buttons and buttons[name].enabled:
                buttons[name] = Button(False, OWN_KEY_ONLY)
    return buttons


def _request_rows(console: Console, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    platform = console.platform
    names = _usernames(platform)
    threshold = platform.contract("Governance").read("threshold")
    stored = (
        stored_documents(platform, [i["evidence"] for i in items if i["evidence"]])
        if can_read_documents(console.who)
        else set()
    )
    details = {
        d.view.id: d
        for d in governance.describe(
            platform,
            [
                i["proposal_id"]
                for i in items
                if i["status"] in ("pending-approvals", "waiting-timelock")
                and i["proposal_id"] is not None
            ],
        )
    }
    rows = []
    for item in items:
        detail = details.get(item["proposal_id"])
        proposal = detail.view if detail else None
        approvals_given = sum(1 for d in item["decisions"] if d["decision"] == "approve")
        parties = [
            f"{role} {identities.name_of(platform, value)}"
            for role, key in (
                ("from", "from"),
                ("to", "to"),
                ("wallet of", "wallet"),
                ("payout held for", "holder"),
            )
            if isinstance(value := item["arguments"].get(key), str) and value.startswith("0x")
        ]
        rows.append(
            {
                **item,
                "maker": names.get(item["proposed_by"], f"user {item['proposed_by']}"),
                "parties": parties,
                "decided_by": [
                    {**d, "username": names.get(d["user_id"], f"user {d['user_id']}")}
                    for d in item["decisions"]
                ],
                "approvals": proposal.approvals if proposal else approvals_given,
                "threshold": threshold,
                "proposal": proposal,
                "detail": detail,
                "evidence_stored": bool(item["evidence"]) and item["evidence"].lower() in stored,
                "actions": _actions(console.who, item, detail, platform.settings.embedded),
            }
        )
    return rows


def _approvals_page(
    request: Request,
    console: Console,
    notice: str | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    items = approvals.list_requests(console.platform)
    live = [i for i in items if i["status"] in ("pending-approvals", "waiting-timelock")]
    done = [i for i in items if i not in live][::-1][:50]
    return page(
        request,
        "approvals.html",
        status=status,
        live=_request_rows(console, live),
        done=_request_rows(console, done),
        notice=notice,
        error=error,
        can_file=_kinds_for(console.who),
        chain_time=console.platform.clock.chain_time(),
    )


def _kinds_for(who: Principal) -> list[tuple[str, FormKind]]:
    return [
        (kind, form)
        for kind, form in FORM_KINDS.items()
        if who.role in approvals.KINDS[kind].makers
    ]


@router.get("/approvals")
def approval_list(
    request: Request, console: Session, done: str = "", request_id: int = 0
) -> Response:
    console.require(*access.APPROVAL_READERS, what="see approval requests")
    notice = NOTICES[done].format(id=request_id) if done in NOTICES and request_id else None
    return _approvals_page(request, console, notice=notice)


@router.get("/proposals")
def proposal_list(request: Request, console: Session) -> Response:
    """Every on-chain proposal in words, newest first, with its history (governance record)."""
    console.require(*access.APPROVAL_READERS, what="see the governance history")
    platform = console.platform
    return page(
        request,
        "proposals.html",
        proposals=governance.describe(platform)[::-1],
        chain_time=platform.clock.chain_time(),
        embedded=platform.settings.embedded,
        may_read_documents=can_read_documents(console.who),
    )


@router.get("/approvals/new")
def approval_kinds(request: Request, console: Session) -> Response:
    kinds = _kinds_for(console.who)
    if not kinds:
        raise Forbidden(
            f"{sessions.a(console.who.role)} may not file requests (issuers and agents do)",
            role=console.who.role.value,
        )
    return page(request, "approval_kinds.html", kinds=kinds)


def _require_kind(console: Console, kind: str) -> FormKind:
    if kind not in FORM_KINDS:
        raise NotFound(
            f"the console cannot file {kind!r} requests (it files: {', '.join(FORM_KINDS)})"
        )
    if console.who.role not in approvals.KINDS[kind].makers:
        allowed = ", ".join(sorted(r.value for r in approvals.KINDS[kind].makers))
        raise Forbidden(
            f"{sessions.a(console.who.role)} may not request {kind} (allowed: {allowed})",
            role=console.who.role.value,
        )
    return FORM_KINDS[kind]


def _request_form(
    request: Request,
    console: Console,
    kind: str,
    values: dict[str, str],
    error: str | None = None,
    status: int = 200,
) -> Response:
    form = _require_kind(console, kind)
    return page(
        request,
        "approval_new.html",
        status=status,
        kind=kind,
        form=form,
        values=values,
        error=error,
        evidence_required=approvals.KINDS[kind].evidence,
        **form_options(console.platform),
    )


@router.get("/approvals/new/{kind}")
def approval_form(request: Request, console: Session, kind: str) -> Response:
    return _request_form(request, console, kind, {})


def _read_evidence(upload: UploadFile) -> tuple[bytes, str]:
    """The uploaded evidence and its 0x-SHA-256 (what goes on chain)."""
    content = upload.file.read(assets.MAX_DOCUMENT_BYTES + 1)
    if len(content) > assets.MAX_DOCUMENT_BYTES:
        raise InvalidInput(
            f"the evidence document is larger than {assets.MAX_DOCUMENT_BYTES} bytes"
        )
    if not content:
        raise InvalidInput("the evidence document is empty")
    return content, "0x" + hashlib.sha256(content).hexdigest()


def _pkr(text: str, what: str) -> int:
    minor = parse_pkr(text) if text.strip() else 0
    if minor <= 0:
        raise InvalidInput(f"{what} must be an amount of PKR above zero, got {text!r}")
    return minor


def _lifecycle_params(form: FormKind, **fields: str) -> dict[str, Any]:
    """The parameters of the lifecycle kinds' form fields, checked."""
    params: dict[str, Any] = {}
    if "amount_pkr" in form.fields:
        params["amount_minor"] = _pkr(fields["amount_pkr"], "the amount")
    if "reference" in form.fields:
        if not fields["reference"].strip():
            raise InvalidInput("give the deposit's bank (RTGS) reference")
        params["reference"] = fields["reference"].strip()
    if "distribution_kind" in form.fields:
        if fields["distribution_kind"] not in distributions.KINDS:
            raise InvalidInput(f"choose what is paid ({', '.join(distributions.KINDS)})")
        params["kind"] = fields["distribution_kind"]
    if "total_pkr" in form.fields:
        params["total_minor"] = _pkr(fields["total_pkr"], "the total")
    if "record_date" in form.fields:
        if not fields["record_date"].strip():
            raise InvalidInput("give the record date")
        params["record_date"] = fields["record_date"].strip()
    if "distribution" in form.fields:
        params["distribution"] = positive(fields["distribution"], "the distribution")
    if "holder" in form.fields:
        if not fields["holder"]:
            raise InvalidInput("choose the holder")
        params["holder"] = fields["holder"]
    return params


@router.post("/approvals/new/{kind}")
def approval_file(
    request: Request,
    console: Posted,
    kind: str,
    token: Annotated[str, Form(max_length=64)] = "",
    to: Annotated[str, Form(max_length=64)] = "",
    wallet: Annotated[str, Form(max_length=64)] = "",
    amount: Annotated[str, Form(max_length=40)] = "",
    amount_pkr: Annotated[str, Form(max_length=40)] = "",
    reference: Annotated[str, Form(max_length=200)] = "",
    distribution_kind: Annotated[str, Form(max_length=16)] = "",
    total_pkr: Annotated[str, Form(max_length=40)] = "",
    record_date: Annotated[str, Form(max_length=32)] = "",
    distribution: Annotated[str, Form(max_length=12)] = "",
    holder: Annotated[str, Form(max_length=64)] = "",
    evidence: Annotated[str, Form(max_length=80)] = "",
    evidence_file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    form = _require_kind(console, kind)
    values = {
        "token": token,
        "to": to,
        "wallet": wallet,
        "amount": amount,
        "amount_pkr": amount_pkr,
        "reference": reference,
        "distribution_kind": distribution_kind,
        "total_pkr": total_pkr,
        "record_date": record_date,
        "distribution": distribution,
        "holder": holder,
        "evidence": evidence,
    }
    try:
        params: dict[str, Any] = {}
        if "token" in form.fields:
            if not token:
                raise InvalidInput("choose a token")
            params["token"] = token
        params.update(
            _lifecycle_params(
                form,
                amount_pkr=amount_pkr,
                reference=reference,
                distribution_kind=distribution_kind,
                total_pkr=total_pkr,
                record_date=record_date,
                distribution=distribution,
                holder=holder,
            )
        )
        if "to" in form.fields:
            if not to:
                raise InvalidInput("choose the receiving institution")
            params["to"] = to
        if "wallet" in form.fields:
            if not wallet:
                raise InvalidInput("choose the wallet")
            params["wallet"] = wallet
        if "amount" in form.fields:
            params["amount"] = positive(amount, "amount")
        evidence_hash = evidence.strip().lower() or None
        upload = evidence_file if evidence_file is not None and evidence_file.filename else None
        content = b""
        if upload is not None:
            content, digest = _read_evidence(upload)
            if evidence_hash and evidence_hash != digest:
                raise InvalidInput(
                    f"the uploaded document's SHA-256 is {digest}, not the hash given "
                    f"({evidence_hash}); give one or make them agree"
                )
            evidence_hash = digest

        def file_request() -> dict[str, Any]:
            created = approvals.create(console.platform, console.who, kind, params, evidence_hash)
            if upload is not None:  # kept, so the request can link to its legal basis
                assets.store_upload(
                    console.platform,
                    content,
                    upload.filename or "evidence",
                    upload.content_type or "application/octet-stream",
                    console.who.username,
                )
            return created

        created = act(
            console,
            file_request,
            detail={
                "kind": kind,
                "params": params,
                "evidence": evidence_hash,
                "evidence_uploaded": upload is not None,
            },
        )
    except Forbidden:
        raise
    except AmanatError as exc:
        return _request_form(
            request, console, kind, values, error=explain(exc), status=status_of(exc)
        )
    return redirect(f"{PREFIX}/approvals?done=filed&request_id={created['id']}")


def _decide(
    request: Request,
    console: Console,
    request_id: int,
    verb: str,
    done: str,
    action: Callable[[], Any],
) -> Response:
    console.require(Role.APPROVER, what=f"{verb} requests")
    try:
        act(console, action, approval_ref=f"request-{request_id}")
    except (RuleViolation, InvalidInput, NotFound) as exc:
        if isinstance(exc, Forbidden):
            raise
        return _approvals_page(
            request,
            console,
            error=f"Request {request_id}: {explain(exc)}",
            status=status_of(exc),
        )
    return redirect(f"{PREFIX}/approvals?done={done}&request_id={request_id}")


@router.post("/approvals/{request_id}/approve")
def approval_approve(request: Request, console: Posted, request_id: int) -> Response:
    return _decide(
        request,
        console,
        request_id,
        "approve",
        "approved",
        lambda: approvals.approve(console.platform, console.who, request_id),
    )


@router.post("/approvals/{request_id}/reject")
def approval_reject(
    request: Request,
    console: Posted,
    request_id: int,
    reason: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    return _decide(
        request,
        console,
        request_id,
        "reject",
        "rejected",
        lambda: approvals.reject(console.platform, console.who, request_id, reason),
    )


@router.post("/approvals/{request_id}/execute")
def approval_execute(request: Request, console: Posted, request_id: int) -> Response:
    return _decide(
        request,
        console,
        request_id,
        "execute",
        "executed",
        lambda: approvals.execute(console.platform, console.who, request_id),
    )


@router.get("/approvals/{request_id}")
def approval_detail(request: Request, console: Session, request_id: int) -> Response:
    console.require(*access.APPROVAL_READERS, what="see approval requests")
    platform = console.platform
    item = approvals.get(platform, request_id)
    (row,) = _request_rows(console, [item])
    allocation = None
    if item["kind"] == "settle_auction" and item["status"] in (
        "pending-approvals",
        "waiting-timelock",
    ):
        args = item["arguments"]
        allocation = [
            {**r, "name": identities.name_of(platform, r["bidder"])}
            for r in auctions.allocation(
                platform, args["auction"], parse_yield(args["cutoff"]), args["days"]
            )
        ]
    return page(
        request,
        "approval.html",
        item=row,
        allocation=allocation,
        chain_time=platform.clock.chain_time(),
        own_key_command=_own_key_command(request, console.who, row),
        development_keys=platform.settings.embedded,
    )


def _own_key_command(request: Request, who: Principal, row: dict[str, Any]) -> str | None:
    """The command with which this approver acts on the request with its own key, signed on
    its own machine: the proposal of its call if it is the first approval, else the approval of
    its proposal; the execute of a request whose proposal is ready (None when there is nothing
    for it to do)."""
    detail = row["detail"]
    if who.role is not Role.APPROVER:
        return None
    key = who.key_name if who.key_name and not who.key_name.startswith("0x") else "YOUR-KEY"
    client = f"amanat --api {str(request.base_url).rstrip('/')} --as {who.username}"
    if row["status"] == "waiting-timelock" and detail is not None and detail.view.state == "ready":
        return f"{client} approval execute {row['id']} --key {key}.json"
    if (
        row["status"] != "pending-approvals"
        or row["proposed_by"] == who.user_id
        or any(d["user_id"] == who.user_id for d in row["decisions"])
        or (detail is not None and detail.view.state != "collecting-approvals")
    ):
        return None
    if detail is None:
        return f"{client} approval approve {row['id']} --key {key}.json"
    return f"{client} proposal approve {detail.view.id} --key {key}.json"
