"""Key lifecycle: rotating an institution's wallet, an official and the tree-head publisher.

- An institution's wallet. The registrar links a new wallet to the institution's identity
  (`identities.link_wallet`); the institution moves everything it holds there with its own
  signed transfers (`move_holdings`: a move within one identity is booked to the same identity,
  so no holding cap, maximum of holders or foreign cap is touched; a lock-up or a freeze still
  refuses it); the registrar then unlinks the old wallet (`unlink_wallet`), refused while it
  holds units (locked for a settlement or not), cash, or a sealed bid's deposit (the chain itself
  refuses units and cash). When the key is lost, governance recovers each token's units and the
  cash to the new wallet (`amanat propose recover TOKEN|PKRT`, evidence-backed) instead of the
  institution's own transfers.
- An official, or the publisher: two governed proposals made together (the contracts add or
  remove one at a time), the new key appointed first, then the old one removed, so the number of
  officials never falls below the threshold and anchoring never stops. Once the old official is
  removed, Governance no longer counts its approvals on open proposals and refuses its key.

Every rotation step is written to the audit trail: who, what, and the proposal or transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete
from sqlalchemy.orm import Session

from amanat.domain.evm import to_checksum_address
from amanat.domain.money import format_pkr
from amanat.errors import InvalidInput, NotFound, RuleViolation
from amanat.services import audit, governance, identities, tokens
from amanat.services.platform import Bound, Platform, read_many
from amanat.store.models import Wallet


def _require_same_institution(
    label: str, wallet: str, wallet_number: int, of: str, number: int, remedy: str
) -> None:
    """Refuse a move of an institution's holdings to `wallet` (identity `wallet_number`, 0 if
    unlinked) unless it is linked to the same identity `number` (described by `of`)."""
    if wallet_number != number:
        linked = f"belongs to identity {wallet_number}" if wallet_number else "is not linked"
        raise RuleViolation(
            "wallet-of-another-institution",
            f"{label} {wallet} {linked}, not to {of}: {remedy}",
            wallet=wallet,
            identity=number,
        )


def _audit(
    platform: Platform,
    who: str,
    role: str,
    action: str,
    resource: str,
    approval_ref: str | None,
    detail: dict[str, Any],
) -> None:
    with platform.store.session() as session, session.begin():
        audit.record(session, who, role, action, resource, "cli", 200, approval_ref, detail)


# ------------------------------------------------------------ institution wallets


def recovery_target(platform: Platform, ref: str) -> Bound:
    """What a recovery proposal calls for `ref`: the cash token for its symbol (PKRT), else the
    asset token by asset id, symbol or address."""
    cash = platform.contract("CashToken")
    if ref in (cash.read("symbol"), cash.address):
        return cash
    return tokens.resolve(platform, ref)


def check_recovery(platform: Platform, target: Bound, lost: str, new: str) -> None:
    """Refuse, before anything is proposed, a recovery of `target` (an asset token or the cash
    token) that its `recoveryAddress` would refuse once approved and timelocked: a lost wallet
    linked to no institution or holding nothing there, units or cash of it locked for a
    settlement, or a new wallet that is not another wallet of the same institution."""
    if lost == new:
        raise InvalidInput(f"the lost and the new wallet are the same wallet ({new})")
    registry = platform.contract("IdentityRegistry")
    cash = target.address == platform.contract("CashToken").address
    number, new_number, held, locked, symbol = read_many(
        [
            (registry, "identityNumberOf", (lost,)),
            (registry, "identityNumberOf", (new,)),
            (target, "balanceOf", (lost,)),
            (target, "lockedOf" if cash else "settlementLocked", (lost,)),
            (target, "symbol", ()),
        ]
    )
    if number == 0:
        raise NotFound(f"lost wallet {lost} is not linked to any institution", wallet=lost)
    _require_same_institution(
        "new wallet",
        new,
        new_number,
        f"identity {number} of the lost wallet {lost}",
        number,
        "a recovery goes to another wallet of the same institution (the registrar links it "
        f"first: `amanat institution link-wallet {number} WALLET`)",
    )
    if not held:
        raise RuleViolation(
            "nothing-to-recover", f"lost wallet {lost} holds no {symbol}", wallet=lost
        )
    if locked:
        raise RuleViolation(
            "locked-for-settlement",
            f"lost wallet {lost} has {format_pkr(locked) if cash else f'{locked:,} units'} of "
            f"{symbol} locked for a settlement: it completes, is cancelled or expires first",
            wallet=lost,
        )


def _audit_unlink(
    session: Session,
    registrar: str,
    number: int | None,
    address: str,
    approval_ref: str | None,
    detail: dict[str, Any],
) -> None:
    audit.record(
        session,
        registrar,
        "registrar",
        "wallet.unlink",
        f"identity/{number}/wallet/{address}",
        "cli",
        200,
        approval_ref,
        detail,
    )


def _complete_unlink(platform: Platform, registrar: str, address: str) -> dict[str, Any] | None:
    """The store's half of an unlink the registry already made (the store step failed after
    the chain's): the wallet's row is deleted and the unlink audited; None when the store holds
    no row for the wallet either."""
    from amanat.store.models import Institution

    with platform.store.session() as session, session.begin():
        row = session.get(Wallet, address)
        if row is None:
            return None
        institution = session.get(Institution, row.institution_id)
        number = institution.identity_number if institution is not None else 0
        session.delete(row)
        _audit_unlink(
            session,
            registrar,
            number,
            address,
            None,
            {"wallet": address, "completed": "the registry had unlinked it; the store follows"},
        )
    wallets = (
        platform.contract("IdentityRegistry").read("walletsOfIdentity", number) if number else []
    )
    return {
        "identity": number,
        "wallet": address,
        "unlinked": True,
        "tx": None,
        "block": None,
        "wallets": list(wallets),
    }


def _identity_of(platform: Platform, address: str) -> int:
    return int(platform.contract("IdentityRegistry").read("identityNumberOf", address))


def wallet_obstacles(platform: Platform, address: str) -> list[str]:
    """What keeps a wallet from being unlinked, in words: units of any token (and how many are
    locked for a settlement), cash (and how much is locked), sealed bids whose deposit the
    auction still holds. Empty when nothing does."""
    obstacles: list[str] = []
    all_tokens = tokens.all_tokens(platform)
    reads = read_many(
        [(t, fn, (address,)) for t in all_tokens for fn in ("balanceOf", "settlementLocked")]
        + [(t, "symbol", ()) for t in all_tokens]
    )
    count = len(all_tokens)
    for index in range(count):
        balance, locked = reads[2 * index], reads[2 * index + 1]
        if balance:
            symbol = reads[2 * count + index]
            lock_text = f", {locked:,} of them locked for a settlement" if locked else ""
            obstacles.append(f"{balance:,} {symbol} units{lock_text}")
    cash = platform.contract("CashToken")
    held, locked_cash = read_many([(cash, "balanceOf", (address,)), (cash, "lockedOf", (address,))])
    if held:
        lock_text = (
            f", {format_pkr(locked_cash)} of it locked for a settlement" if locked_cash else ""
        )
        obstacles.append(f"{format_pkr(held)} of cash{lock_text}")
    auction = platform.contract("Auction")
    auctions = range(1, auction.read("auctionCount") + 1)
    bids = read_many([(auction, "getBid", (i, address)) for i in auctions])
    for auction_id, bid in zip(auctions, bids, strict=True):
        deposit_held = bid[3]
        if deposit_held:
            obstacles.append(
                f"a sealed bid in auction {auction_id} whose deposit of {format_pkr(deposit_held)} "
                "the auction holds until it is revealed"
            )
    return obstacles


def unlink_wallet(platform: Platform, registrar: str, wallet: str) -> dict[str, Any]:
    """Unlink a wallet from its institution (the registrar's key): it may then neither send nor
    receive. Refused, before anything is written, while the wallet holds anything (see
    `wallet_obstacles`): move it with the institution's own transfers, or recover it."""
    address = platform.address_of(wallet)
    number = _identity_of(platform, address)
    if number == 0:
        completed = _complete_unlink(platform, registrar, address)
        if completed is not None:
            return completed
        raise NotFound(f"wallet {address} is not linked to any institution", wallet=address)
    obstacles = wallet_obstacles(platform, address)
    if obstacles:
        raise RuleViolation(
            "wallet-not-empty",
            f"wallet {address} of {identities.name_of(platform, address)} (identity {number}) "
            f"still holds {'; '.join(obstacles)}: move them to another wallet of the institution "
            "(`amanat institution move-holdings`), or recover them by governance if its key is "
            "lost (`amanat propose recover TOKEN`, and `amanat propose recover PKRT` for its "
            "cash), then unlink it",
            wallet=address,
            identity=number,
        )
    registry = platform.contract("IdentityRegistry")
    name = identities.name_of(platform, address)
    (receipt,) = platform.chain.transact(
        platform.signer(registrar),
        [registry.tx("unlinkWallet", address, description=f"unlink wallet {address}")],
    )
    with platform.store.session() as session, session.begin():  # the store's half, at once
        session.execute(delete(Wallet).where(Wallet.address == address))
        _audit_unlink(
            session,
            registrar,
            number,
            address,
            f"tx {receipt.tx_hash}",
            {"institution": name, "wallet": address, "block": receipt.block_number},
        )
    return {
        "identity": number,
        "wallet": address,
        "unlinked": True,
        "tx": receipt.tx_hash,
        "block": receipt.block_number,
        "wallets": list(registry.read("walletsOfIdentity", number)),
    }


@dataclass(frozen=True)
class _Move:
    token: Bound | None  # None: the cash token
    symbol: str
    amount: int


def move_holdings(platform: Platform, holder: str, new_wallet: str) -> dict[str, Any]:
    """Move everything the wallet of key `holder` may move (every token's available units and
    its unlocked cash) to `new_wallet`, another wallet of the same institution, with transfers
    signed by `holder` itself. Every transfer is pre-checked before the first is sent; units
    frozen by governance or locked for a settlement stay, and are reported."""
    signer = platform.signer(holder)
    old = to_checksum_address(signer.address)
    new = platform.address_of(new_wallet)
    if new == old:
        raise InvalidInput(f"the new wallet {new} is the wallet the holdings are in")
    number, new_number = _identity_of(platform, old), _identity_of(platform, new)
    if number == 0:
        raise NotFound(f"wallet {old} ({holder}) is not linked to any institution", wallet=old)
    _require_same_institution(
        "wallet",
        new,
        new_number,
        f"identity {number} of {old}",
        number,
        f"the registrar links it first (`amanat institution link-wallet {number} {new_wallet}`)",
    )
    moves: list[_Move] = []
    staying: list[str] = []
    for token in tokens.all_tokens(platform):
        balance, frozen, locked, symbol = read_many(
            [
                (token, "balanceOf", (old,)),
                (token, "getFrozenTokens", (old,)),
                (token, "settlementLocked", (old,)),
                (token, "symbol", ()),
            ]
        )
        free = balance - frozen - locked
        if frozen:
            staying.append(f"{frozen:,} {symbol} units frozen by governance")
        if locked:
            staying.append(f"{locked:,} {symbol} units locked for a settlement")
        if free <= 0:
            continue
        verdict = tokens.precheck(platform, token, old, new, free)
        if not verdict.allowed:
            raise RuleViolation(
                verdict.code.rule,
                f"{free:,} {symbol} units cannot move from {old} to {new}: "
                f"{verdict.code.reason}: {verdict.detail}. Nothing was moved; if the key is "
                "lost, or the units must move now, governance recovers them "
                "(`amanat propose recover`)",
                code=int(verdict.code),
            )
        moves.append(_Move(token, symbol, free))
    cash = platform.contract("CashToken")
    cash_free = cash.read("balanceOf", old) - cash.read("lockedOf", old)
    if cash_free:
        moves.append(_Move(None, cash.read("symbol"), cash_free))
    if not moves:
        raise RuleViolation(
            "nothing-to-move",
            f"wallet {old} holds nothing it may move"
            + (f" ({'; '.join(staying)} stay)" if staying else ""),
            wallet=old,
        )
    requests = [
        (m.token or cash).tx(
            "transfer",
            new,
            m.amount,
            description=f"rotate wallet: move {m.symbol} to {new}",
            gas=tokens.TRANSFER_GAS_LIMIT,
        )
        for m in moves
    ]
    receipts = platform.chain.transact(signer, requests)
    moved = [
        {
            "symbol": m.symbol,
            "amount": m.amount if m.token else format_pkr(m.amount),
            "tx": r.tx_hash,
            "block": r.block_number,
        }
        for m, r in zip(moves, receipts, strict=True)
    ]
    _audit(
        platform,
        holder,
        "institution",
        "wallet.move-holdings",
        f"identity/{number}/wallet/{old}",
        "txs " + ",".join(r.tx_hash for r in receipts),
        {"from": old, "to": new, "moved": [f"{m['amount']} {m['symbol']}" for m in moved]},
    )
    return {"identity": number, "from": old, "to": new, "moved": moved, "staying": staying}


# ------------------------------------------------------------ officials, publisher

MAX_OFFICIALS = 32  # Governance's MAX_OFFICIALS: approvals hold at most this many


def _role_rotation(
    platform: Platform,
    actor: str,
    target: Bound,
    setter: str,
    old: str,
    new: str,
    evidence: str | None,
    action: str,
    idempotency_key: str | None,
) -> dict[str, Any]:
    """Propose `setter(new, true)` then `setter(old, false)` on `target`; audit both."""
    keys = (
        (f"{idempotency_key}:appoint", f"{idempotency_key}:remove")
        if idempotency_key
        else (None, None)
    )
    first = governance.propose(
        platform, actor, target, setter, [new, True], evidence, idempotency_key=keys[0]
    )
    second = governance.propose(
        platform, actor, target, setter, [old, False], evidence, idempotency_key=keys[1]
    )
    _audit(
        platform,
        actor,
        "approver",
        action,
        f"{target.abi.name}/{old}",
        f"proposals {first},{second}",
        {"old": old, "new": new, "appoint": first, "remove": second},
    )
    return {"old": old, "new": new, "proposals": [first, second]}


def propose_official_rotation(
    platform: Platform,
    actor: str,
    old: str,
    new: str,
    evidence: str | None = None,
    idempotency_key: str | None = None,
) -> dict[str, Any]:
    """Replace official `old` by `new`: proposal 1 appoints `new`, proposal 2 removes `old`
    (execute them in that order: the removal restarts the timelocks of open proposals, and
    the number of officials stays at or above the threshold throughout)."""
    gov = platform.contract("Governance")
    old_address, new_address = platform.address_of(old), platform.address_of(new)
    if old_address == new_address:
        raise InvalidInput(f"the old and new official are the same key ({old_address})")
    is_old, is_new, count, threshold = read_many(
        [
            (gov, "isOfficial", (old_address,)),
            (gov, "isOfficial", (new_address,)),
            (gov, "officialCount", ()),
            (gov, "threshold", ()),
        ]
    )
    if not is_old:
        raise RuleViolation("not-an-official", f"{old} ({old_address}) is not an official")
    if is_new:
        raise RuleViolation("already-an-official", f"{new} ({new_address}) is already an official")
    if count + 1 > MAX_OFFICIALS:
        raise RuleViolation(
            "too-many-officials",
            f"there are {count} officials, the most Governance holds ({MAX_OFFICIALS}): remove "
            "one first",
        )
    assert count >= threshold  # Governance keeps it so; after the rotation it is unchanged
    return _role_rotation(
        platform,
        actor,
        gov,
        "setOfficial",
        old_address,
        new_address,
        evidence,
        "official.rotate",
        idempotency_key,
    )


def propose_publisher_rotation(
    platform: Platform,
    actor: str,
    old: str,
    new: str,
    evidence: str | None = None,
    idempotency_key: str | None = None,
) -> dict[str, Any]:
    """Replace the tree-head publisher `old` by `new`: proposal 1 appoints `new`, proposal 2
    removes `old`. Once both ran, name the new key in amanat.toml (`[transparency] publisher`)
    so that `amanat serve` and `amanat log publish` anchor with it."""
    anchor = platform.contract("TransparencyAnchor")
    old_address, new_address = platform.address_of(old), platform.address_of(new, new=True)
    if old_address == new_address:
        raise InvalidInput(f"the old and new publisher are the same key ({old_address})")
    is_old, is_new = read_many(
        [(anchor, "isPublisher", (old_address,)), (anchor, "isPublisher", (new_address,))]
    )
    if not is_old:
        raise RuleViolation("not-a-publisher", f"{old} ({old_address}) is not a publisher")
    if is_new:
        raise RuleViolation("already-a-publisher", f"{new} ({new_address}) is already a publisher")
    return _role_rotation(
        platform,
        actor,
        anchor,
        "setPublisher",
        old_address,
        new_address,
        evidence,
        "publisher.rotate",
        idempotency_key,
    )
