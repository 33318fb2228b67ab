"""Console pages of the token register: the tokens, a token's holders, and an institution's own
transfer (pre-check verdict first, then a confirmation that is idempotent)."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import Response

from amanat.api.problems import status_of
from amanat.errors import AmanatError, InvalidInput, RuleViolation
from amanat.services import access, identities, tokens
from amanat.services.accounts import Role
from amanat.services.approvals import Forbidden
from amanat.services.platform import Bound
from amanat.web import session as sessions
from amanat.web.console.common import (
    Posted,
    Session,
    act,
    area_router,
    explain,
    form_options,
    own_wallets,
    page,
    positive,
)
from amanat.web.session import Console

NONCE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")

router = area_router()

# -------------------------------------------------------------------- tokens


@router.get("/tokens")
def token_list(request: Request, console: Session) -> Response:
    console.refuse(Role.INSTITUTION, what="see the token register")
    rows = [tokens.info(console.platform, t) for t in tokens.all_tokens(console.platform)]
    return page(request, "tokens.html", tokens=rows)


@router.get("/tokens/{ref}/holders")
def token_holders(request: Request, console: Session, ref: str) -> Response:
    console.require(*access.HOLDERS_READERS, what="see other institutions' holdings")
    platform = console.platform
    token = tokens.resolve(platform, ref)
    block = platform.chain.block_number()
    rows = tokens.holders(platform, token, block=block)
    return page(
        request,
        "holders.html",
        token=tokens.info(platform, token),
        holders=rows,
        block=block,
        chain_time=platform.chain.block_timestamp(block),
    )


# ------------------------------------------------------------------ transfer


def _holder_key(console: Console) -> str:
    return access.holder_key(console.platform, console.who, "transfer tokens")


def _transfer_form(
    request: Request, console: Console, values: dict[str, str], error: str | None, status: int
) -> Response:
    platform = console.platform
    mine = set(own_wallets(platform, console.who))
    options = form_options(platform)
    sender = platform.address_of(_holder_key(console))
    for option in options["tokens"]:
        option["balance"] = platform.token(option["address"]).read("balanceOf", sender)
    receivers = [w for w in options["wallets"] if w["address"] not in mine]
    return page(
        request,
        "transfer.html",
        status=status,
        tokens=options["tokens"],
        receivers=receivers,
        sender=sender,
        values=values,
        error=error,
    )


@router.get("/transfer")
def transfer_form(request: Request, console: Session) -> Response:
    _holder_key(console)
    return _transfer_form(request, console, {}, None, 200)


def _transfer_inputs(
    console: Console, token: str, receiver: str, other: str, amount: str
) -> tuple[Bound, str, int]:
    if not token:
        raise InvalidInput("choose a token")
    bound = tokens.resolve(console.platform, token)
    target = other.strip() or receiver
    if not target:
        raise InvalidInput("choose a receiver or give a receiving address")
    if not target.startswith("0x"):
        raise InvalidInput(f"the receiver must be a 0x address, got {target!r}")
    address = console.platform.address_of(target)
    return bound, address, positive(amount, "amount")


@router.post("/transfer")
def transfer_check(
    request: Request,
    console: Posted,
    token: Annotated[str, Form(max_length=64)] = "",
    receiver: Annotated[str, Form(max_length=64)] = "",
    other: Annotated[str, Form(max_length=64)] = "",
    amount: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    """The pre-check verdict first; only an allowed transfer gets a confirm button."""
    key = _holder_key(console)
    values = {"token": token, "receiver": receiver, "other": other, "amount": amount}
    platform = console.platform
    try:
        bound, to, units = _transfer_inputs(console, token, receiver, other, amount)
        sender = platform.address_of(key)
        verdict = tokens.precheck(
            platform, bound, sender, to, units, access.counterparty_detail(console.who)
        )
    except Forbidden:
        raise
    except AmanatError as exc:
        return _transfer_form(request, console, values, explain(exc), status_of(exc))
    return page(
        request,
        "transfer_check.html",
        verdict=verdict,
        symbol=bound.read("symbol"),
        token=bound.address,
        sender=sender,
        receiver=to,
        receiver_name=identities.name_of(platform, to),
        amount=units,
        nonce=sessions.new_nonce(),
    )


@router.post("/transfer/confirm")
def transfer_confirm(
    request: Request,
    console: Posted,
    token: Annotated[str, Form(max_length=64)] = "",
    receiver: Annotated[str, Form(max_length=64)] = "",
    amount: Annotated[str, Form(max_length=40)] = "",
    nonce: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    key = _holder_key(console)
    platform = console.platform
    if not NONCE.match(nonce):
        raise InvalidInput("the confirmation form is incomplete; start the transfer again")
    idempotency_key = f"console-transfer-{console.who.username}-{nonce}"
    earlier = platform.chain.journal.existing([idempotency_key])
    bound, to, units = _transfer_inputs(console, token, receiver, "", amount)
    symbol = bound.read("symbol")
    if earlier:
        return page(
            request,
            "transfer_done.html",
            result=None,
            earlier=earlier[idempotency_key],
            symbol=symbol,
            amount=units,
            receiver_name=identities.name_of(platform, to),
        )
    detail = {"token": symbol, "to": to, "amount": units}
    try:
        result = act(
            console,
            lambda: tokens.transfer(
                platform,
                key,
                bound,
                to,
                units,
                idempotency_key,
                access.counterparty_detail(console.who),
            ),
            detail=detail,
        )
    except RuleViolation as exc:
        if isinstance(exc, Forbidden):
            raise
        verdict = tokens.precheck(
            platform,
            bound,
            platform.address_of(key),
            to,
            units,
            access.counterparty_detail(console.who),
        )
        return page(
            request,
            "transfer_check.html",
            status=status_of(exc),
            verdict=verdict,
            symbol=symbol,
            token=bound.address,
            sender=platform.address_of(key),
            receiver=to,
            receiver_name=identities.name_of(platform, to),
            amount=units,
            nonce=sessions.new_nonce(),
            error=f"Not sent: {explain(exc)}",
        )
    return page(
        request,
        "transfer_done.html",
        result=result,
        earlier=None,
        symbol=symbol,
        amount=units,
        receiver_name=identities.name_of(platform, to),
    )
