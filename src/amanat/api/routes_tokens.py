"""Tokens and holdings (public aggregates, details, cap tables as of a block or date, balances)
and transfers (pre-check, transfer by an institution's own key, indexed transfer history)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import bindparam, or_, select
from sqlalchemy.orm import Session

from amanat.api.deps import IdempotencyKey, PlatformDep, ReaderDep, require
from amanat.api.read_cache import (
    CURSOR_QUERY,
    BlockCache,
    indexed_block,
    json_body,
    json_reply,
)
from amanat.api.routes_common import (
    ERRORS,
    INSTITUTION,
    SIGNED_IN,
    Address,
    Amount,
    Block,
    CategoryName,
    Count,
    Hash,
    Id,
    Listing,
    Page,
    Timestamp,
    TokenRef,
    address,
    chain_key,
    day_end,
    default_listing,
    listing,
    page_of,
    require_own_wallet,
    run_post,
    scope_of,
    sql_page,
)
from amanat.errors import InvalidInput, RuleViolation
from amanat.indexer import queries
from amanat.services import access, accounts, client_tx, public, tokens
from amanat.services.accounts import Principal
from amanat.services.approvals import Forbidden
from amanat.services.platform import Bound, Platform, read_many
from amanat.store.models import ChainEvent, Institution, Token, Wallet

router = APIRouter(tags=["tokens"], responses=ERRORS)
transfers = APIRouter(tags=["transfers"], responses=ERRORS)

Ref = Annotated[
    str,
    Path(
        pattern=r"^(0x[0-9a-fA-F]{40}|[0-9]{1,9}|[A-Za-z][A-Za-z0-9._-]{0,31})$",
        description="Asset id, symbol or token address",
    ),
]
WalletAddress = Annotated[str, Path(pattern=r"^0x[0-9a-fA-F]{40}$")]
ZERO = "0x0000000000000000000000000000000000000000"


class TokenSummary(BaseModel):
    address: Address
    asset: Id
    symbol: str
    name: str
    decimals: Annotated[int, Field(ge=0, le=255)]
    total_supply: Count
    holders: Count | None = Field(
        description="null: withheld from the public, fewer than the disclosure threshold"
    )
    paused: bool


class RulesOut(BaseModel):
    eligible_categories: list[CategoryName]
    foreign_cap_bps: Annotated[int, Field(ge=0, le=10_000)]
    max_holders: Count = Field(description="0: no limit")
    lockup_until: Count = Field(description="Unix time; 0: no lock-up")
    country_mode: Literal["none", "allow", "deny"]
    countries: list[Annotated[int, Field(ge=1, le=999)]]
    domestic_country: Annotated[int, Field(ge=0, le=65535)]
    holding_cap: Annotated[int, Field(ge=0)] = Field(description="Per institution; 0: no cap")
    minimum_holding: Annotated[int, Field(ge=0)]


class TokenDetail(TokenSummary):
    foreign_held: Count | None = Field(
        description="Units held by foreign holders; null for an institution (it may be one "
        "holder's)"
    )
    rules: RulesOut


class Holder(BaseModel):
    wallet: Address
    identity: Id | None
    institution: str | None
    balance: Amount


class HoldersPage(Page[Holder]):
    token: Address
    symbol: str
    block: Block | None = Field(description="The cap table is as of the end of this block")


class BalanceOut(BaseModel):
    token: Address
    symbol: str
    wallet: Address
    balance: Count
    frozen_tokens: Count
    wallet_frozen: bool


class PrecheckIn(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    token: TokenRef
    sender: Address | None = Field(
        default=None,
        alias="from",
        description="Sending wallet (an institution user: its own, the default)",
    )
    to: Address
    amount: Amount


class VerdictOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    allowed: bool
    code: Annotated[int, Field(ge=0, le=255)]
    rule: str = Field(description="The refusing rule, or 'ok'")
    reason: str
    detail: str = Field(description="The values behind the verdict")
    token: Address
    sender: Address = Field(alias="from")
    to: Address
    amount: Amount


class TransferIn(BaseModel):
    token: TokenRef
    to: Address
    amount: Amount


class TransferOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    tx: Hash
    block: Block
    gas_used: Count
    token: Address
    symbol: str
    sender: Address = Field(alias="from")
    to: Address
    amount: Amount


class TransferEvent(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    block: Block
    log_index: Annotated[int, Field(ge=0)]
    tx: Hash
    timestamp: Timestamp
    token: Address
    asset: Id | None
    kind: Literal["mint", "burn", "transfer"]
    sender: Address = Field(alias="from")
    to: Address
    amount: Count


# A write's token lookup, built once (building and keying a statement per request costs more CPU
# than executing it).
_TOKEN_BY_ADDRESS = select(Token.address).where(Token.address == bindparam("ref"))
_TOKEN_BY_ASSET = select(Token.address).where(Token.asset_id == bindparam("ref"))
_TOKEN_BY_SYMBOL = select(Token.address).where(Token.symbol == bindparam("ref"))


def resolve(platform: Platform, ref: str) -> Bound:
    """A token by asset id, symbol or address: from the index, else from the chain."""
    value: str | int
    if ref.startswith("0x"):
        query, value = _TOKEN_BY_ADDRESS, address(ref)
    elif ref.isdigit():
        query, value = _TOKEN_BY_ASSET, int(ref)
    else:
        query, value = _TOKEN_BY_SYMBOL, ref
    with platform.store.read_engine.connect() as connection:  # one statement, autocommit
        found = connection.scalar(query, {"ref": value})
    return platform.token(found) if found else tokens.resolve(platform, ref)


SUMMARY = {
    "asset": "assetId",
    "symbol": "symbol",
    "name": "name",
    "decimals": "decimals",
    "total_supply": "totalSupply",
    "holders": "holderCount",
    "paused": "paused",
}


def _summaries(tokens_: list[Bound]) -> list[dict[str, Any]]:
    """Each token's aggregates, read in one JSON-RPC batch."""
    values = iter(read_many([(t, fn, ()) for t in tokens_ for fn in SUMMARY.values()]))
    return [{"address": t.address, **{key: next(values) for key in SUMMARY}} for t in tokens_]


def _all_tokens(platform: Platform) -> list[Bound]:
    count = platform.contract("AssetRegistry").read("assetCount")
    factory = platform.contract("TokenFactory")
    addresses = read_many([(factory, "tokenOf", (asset,)) for asset in range(1, count + 1)])
    return [platform.token(a) for a in addresses if int(a, 16) != 0]


@router.get(
    "/tokens",
    response_model=Page[TokenSummary],
    summary="Tokens with their supply and number of holders (public aggregates)",
)
def list_tokens(
    platform: PlatformDep,
    who: ReaderDep,
    by: Annotated[
        Listing,
        Depends(listing(("asset", "symbol", "name", "total_supply", "holders"), "asset")),
    ],
    symbol: Annotated[str | None, Query(pattern=r"^[A-Za-z][A-Za-z0-9._-]{0,31}$")] = None,
    asset: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    paused: bool | None = None,
) -> dict[str, Any]:
    rows = [public.token_summary(row, who) for row in _summaries(_all_tokens(platform))]
    return page_of(rows, by, symbol=symbol, asset=asset, paused=paused)


@router.get(
    "/tokens/{ref}",
    response_model=TokenDetail,
    summary="A token with its compliance rules",
)
def get_token(
    ref: Ref,
    platform: PlatformDep,
    who: Annotated[Principal, Depends(require(*SIGNED_IN))],
) -> dict[str, Any]:
    token = resolve(platform, ref)
    rules = tokens.rules_of(token)
    return {
        **public.token_summary(_summaries([token])[0], who),
        "foreign_held": public.foreign_held(token.read("foreignHeld"), who),
        "rules": {
            "eligible_categories": sorted(c.name.lower() for c in rules.eligible_categories),
            "foreign_cap_bps": rules.foreign_cap_bps,
            "max_holders": rules.max_holders,
            "lockup_until": rules.lockup_until,
            "country_mode": rules.country_mode,
            "countries": list(rules.countries),
            "domestic_country": rules.domestic_country,
            "holding_cap": rules.holding_cap,
            "minimum_holding": rules.minimum_holding,
        },
    }


HOLDERS_SORTS = ("balance", "wallet", "institution", "identity")
HOLDERS_SORT = "-balance"
HOLDERS_READERS = access.HOLDERS_READERS


@router.get(
    "/tokens/{ref}/holders",
    response_model=HoldersPage,
    summary="The cap table from the index, as of a block or a date (default: latest indexed)",
)
def holders(
    request: Request,
    ref: Ref,
    platform: PlatformDep,
    who: Annotated[Principal, Depends(require(*HOLDERS_READERS))],
    by: Annotated[Listing, Depends(listing(HOLDERS_SORTS, HOLDERS_SORT))],
    block: Annotated[int | None, Query(ge=0, le=2**63 - 1, description="As of this block")] = None,
    on: Annotated[
        date | None, Query(alias="date", description="As of the end of this UTC day")
    ] = None,
) -> Response:
    if block is not None and on is not None:
        raise InvalidInput("give a block or a date, not both")
    cache = request.app.state.read_cache
    token: Bound = cache.get(("token", ref), lambda: resolve(platform, ref))  # never changes
    with platform.store.session() as session:
        indexed = indexed_block(session)
        if on is not None:
            block = queries.block_at(session, day_end(on))
        elif block is not None and (indexed is None or block > indexed):
            raise RuleViolation(
                "not-indexed",
                f"block {block} is not indexed yet (indexed up to {indexed})",
                block=block,
                indexed=indexed,
            )
        else:
            block = block if block is not None else indexed
        symbol, items = cache.get(
            ("holders", token.address, block), lambda: _cap_table(session, token, block)
        )
    content: bytes = cache.get(
        _holders_page_key(token.address, block, by),
        lambda: json_body(
            HoldersPage,
            {
                **page_of(items, by),
                "token": token.address,
                "symbol": symbol or token.read("symbol"),
                "block": block,
            },
        ),
    )
    return json_reply(content)


def _holders_page_key(token: str, block: int | None, by: Listing) -> tuple[Any, ...]:
    return ("holders-page", token, block, by)


# The bearer check and the index's cursor in one statement: a hot cap table's one round trip.
HOT_HOLDERS_CHECK = accounts.token_check_reading(CURSOR_QUERY.scalar_subquery())


def hot_holders(cache: BlockCache, ref: str, checked: Sequence[Any] | None) -> bytes | None:
    """The cached reply of `GET /tokens/{ref}/holders` with no query parameters for a request
    whose bearer token HOT_HOLDERS_CHECK read as `checked` (None: no such token), as of the
    indexed block it read; or None when the token or its user's role may not read it (checked
    as `accounts.authenticate` does: expiry, signed out, user deactivated; a cap table is for
    staff) or the reply is not cached (the full route then answers, with its problem if any)."""
    try:
        who = accounts.principal_of(checked)
    except accounts.Unauthenticated:
        return None
    token: Bound | None = cache.peek(("token", ref))
    if who.role not in HOLDERS_READERS or token is None or checked is None:
        return None
    block = checked[-1]
    page: bytes | None = cache.peek(
        _holders_page_key(token.address, block, default_listing(HOLDERS_SORT))
    )
    return page


def _cap_table(
    session: Session, token: Bound, block: int | None
) -> tuple[str | None, list[dict[str, Any]]]:
    """The token's indexed symbol and its holders with their institutions as of `block`
    (None: nothing indexed, no holders)."""
    symbol = session.scalar(select(Token.symbol).where(Token.address == token.address))
    rows = [] if block is None else queries.cap_table(session, token.address, block)
    owners = {
        wallet: (number, name)
        for wallet, number, name in session.execute(
            select(Wallet.address, Institution.identity_number, Institution.legal_name)
            .join(Institution, Institution.id == Wallet.institution_id)
            .where(Wallet.address.in_([holder for holder, _ in rows]))
        )
    }
    items = [
        {
            "wallet": holder,
            "identity": owners.get(holder, (None, None))[0],
            "institution": owners.get(holder, (None, None))[1],
            "balance": balance,
        }
        for holder, balance in rows
    ]
    return symbol, items


@router.get(
    "/tokens/{ref}/balances/{wallet}",
    response_model=BalanceOut,
    summary="A wallet's balance of a token at the latest block (an institution: own wallets)",
)
def balance(
    ref: Ref,
    wallet: WalletAddress,
    platform: PlatformDep,
    who: Annotated[Principal, Depends(require(*SIGNED_IN))],
) -> dict[str, Any]:
    require_own_wallet(platform, who, wallet)
    token = resolve(platform, ref)
    holder = address(wallet)
    return {
        "token": token.address,
        "symbol": token.read("symbol"),
        "wallet": holder,
        "balance": token.read("balanceOf", holder),
        "frozen_tokens": token.read("getFrozenTokens", holder),
        "wallet_frozen": token.read("isFrozen", holder),
    }


# ------------------------------------------------------------------ transfers


def _own_wallet(platform: Platform, who: Principal) -> str:
    return client_tx.wallet_of(platform, who)


@transfers.post(
    "/transfers/precheck",
    response_model=VerdictOut,
    summary="Would this transfer pass every rule? The refusing rule, its reason and values",
)
def precheck(
    body: PrecheckIn,
    request: Request,
    response: Response,
    platform: PlatformDep,
    who: Annotated[Principal, Depends(require(*SIGNED_IN))],
    key: IdempotencyKey = None,
) -> dict[str, Any]:
    def action() -> dict[str, Any]:
        if body.sender is not None:
            require_own_wallet(platform, who, body.sender)
            sender = address(body.sender)
        elif who.role is INSTITUTION:
            sender = _own_wallet(platform, who)
        else:
            raise InvalidInput("give the sending wallet in 'from'")
        token = resolve(platform, body.token)
        verdict = tokens.precheck(
            platform,
            token,
            sender,
            address(body.to),
            body.amount,
            access.counterparty_detail(who),
        )
        return {
            **verdict.as_dict(),
            "token": token.address,
            "from": sender,
            "to": address(body.to),
            "amount": body.amount,
        }

    return run_post(request, response, platform, who, key, 200, action)


@transfers.post(
    "/transfers",
    response_model=TransferOut,
    status_code=201,
    summary="Transfer from the institution's own wallet; refused under a named rule if any fails",
)
def transfer(
    body: TransferIn,
    request: Request,
    response: Response,
    platform: PlatformDep,
    who: Annotated[Principal, Depends(require(*access.HOLDING_MOVERS))],
    key: IdempotencyKey = None,
) -> dict[str, Any]:
    def action() -> dict[str, Any]:
        return tokens.transfer(
            platform,
            access.holder_key(platform, who, "transfer tokens"),
            resolve(platform, body.token),
            address(body.to),
            body.amount,
            idempotency_key=chain_key(who, key),
            counterparty_detail=access.counterparty_detail(who),
        )

    return run_post(request, response, platform, who, key, 201, action)


@transfers.get(
    "/transfers",
    response_model=Page[TransferEvent],
    summary="Indexed transfers, mints and burns (an institution user: its own wallets only)",
)
def list_transfers(
    platform: PlatformDep,
    who: Annotated[Principal, Depends(require(*SIGNED_IN))],
    by: Annotated[Listing, Depends(listing(("block", "timestamp"), "block"))],
    token: Annotated[
        str | None,
        Query(pattern=r"^(0x[0-9a-fA-F]{40}|[0-9]{1,9}|[A-Za-z][A-Za-z0-9._-]{0,31})$"),
    ] = None,
    wallet: Annotated[str | None, Query(pattern=r"^0x[0-9a-fA-F]{40}$")] = None,
    from_block: Annotated[int | None, Query(ge=0, le=2**63 - 1)] = None,
    to_block: Annotated[int | None, Query(ge=0, le=2**63 - 1)] = None,
) -> dict[str, Any]:
    sender = ChainEvent.args["sender"].as_string()
    receiver = ChainEvent.args["receiver"].as_string()
    query = select(ChainEvent).where(
        ChainEvent.contract_kind == "AssetToken", ChainEvent.event == "Transfer"
    )
    scope = scope_of(platform, who)
    if wallet is not None:
        require_own_wallet(platform, who, wallet)
        query = query.where(or_(sender == address(wallet), receiver == address(wallet)))
    elif scope is not None:
        if not scope.wallets:
            raise Forbidden("this institution user has no wallets", role=who.role.value)
        query = query.where(or_(sender.in_(scope.wallets), receiver.in_(scope.wallets)))
    if token is not None:
        query = query.where(ChainEvent.contract == resolve(platform, token).address)
    if from_block is not None:
        query = query.where(ChainEvent.block >= from_block)
    if to_block is not None:
        query = query.where(ChainEvent.block <= to_block)
    columns: dict[str, list[Any]] = {
        "block": [ChainEvent.block, ChainEvent.log_index],
        "timestamp": [ChainEvent.timestamp, ChainEvent.block, ChainEvent.log_index],
    }
    with platform.store.session() as session:
        rows, total = sql_page(session, query, by, columns)
    items = []
    for (event,) in rows:
        source, target = event.args["sender"], event.args["receiver"]
        kind = "mint" if source == ZERO else "burn" if target == ZERO else "transfer"
        items.append(
            {
                "block": event.block,
                "log_index": event.log_index,
                "tx": event.tx_hash,
                "timestamp": event.timestamp,
                "token": event.contract,
                "asset": event.asset_id,
                "kind": kind,
                "from": address(source),
                "to": address(target),
                "amount": event.args["value"],
            }
        )
    return {"items": items, "total": total, "limit": by.limit, "skip": by.skip}
