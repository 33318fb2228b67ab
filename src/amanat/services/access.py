"""Who may see or do what, on whose data: the one policy the API, the console and the CLI read.

Role sets are defined here once; the faces translate them (an API dependency, a console check,
the role x route matrix in the tests). What a refusal may tell an institution about other
parties is decided here too (`counterparty_detail`)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from amanat.errors import OwnKeyRequired
from amanat.services import inputs
from amanat.services.accounts import Principal, Role
from amanat.services.approvals import Forbidden
from amanat.services.approvals import require_server_key as require_no_official_key
from amanat.services.platform import Platform
from amanat.store.models import Institution, Wallet

ISSUER, APPROVER, REGISTRAR, VALUER, AGENT, AUDITOR, REGULATOR, INSTITUTION = (
    Role.ISSUER,
    Role.APPROVER,
    Role.REGISTRAR,
    Role.VALUER,
    Role.AGENT,
    Role.AUDITOR,
    Role.REGULATOR,
    Role.INSTITUTION,
)
# Every role that works for the state (everyone but institutions).
STAFF = (ISSUER, APPROVER, REGISTRAR, VALUER, AGENT, AUDITOR, REGULATOR)
SIGNED_IN = (*STAFF, INSTITUTION)
# Oversight reads the audit trail, reconciliations and the full transparency entries.
OVERSIGHT = (AUDITOR, REGULATOR)
# Approval requests: who reads them, who files them (approvers decide: APPROVER).
APPROVAL_READERS = (ISSUER, APPROVER, AGENT, AUDITOR, REGULATOR)
APPROVAL_MAKERS = (ISSUER, AGENT)
# Stored documents (deeds, valuation reports, evidence): the makers who cite them, the approvers
# who weigh them, and oversight.
DOCUMENT_READERS = (ISSUER, APPROVER, AGENT, AUDITOR, REGULATOR)
# A token's cap table (every holder by name and holding): staff; an institution sees its own.
HOLDERS_READERS = STAFF
# Personal data (decrypted KYC records): each read is audited.
KYC_READERS = (AUDITOR, REGISTRAR)
# Named bidders and their allotments in an auction.
ALLOCATION_READERS = (ISSUER, APPROVER, AUDITOR, REGULATOR)
# Who may pay out a distribution or release a held payout.
PAYERS = (ISSUER, AGENT)
# Who moves holdings from its own wallet (transfers, DvP steps, sealed bids, claims).
HOLDING_MOVERS = (INSTITUTION,)


def counterparty_detail(who: Principal | None) -> bool:
    """Whether refusals shown to `who` may name other parties' names, holdings, categories,
    countries and KYC (staff and the CLI operator: yes; an institution: only its own figures)."""
    return who is None or who.role is not INSTITUTION


@dataclass(frozen=True)
class Scope:
    """What an institution user may see: its identity and wallets."""

    identity: int | None
    wallets: frozenset[str]


def require_server_key(platform: Platform, who: Principal) -> None:
    """The platform signs for `who` with a key it holds only on the embedded chain (development
    keys), or for the platform's own operational roles; on a network deployment an institution
    signs its own transactions and an official its own approvals."""
    if platform.settings.embedded:
        return
    if who.role is APPROVER:
        require_no_official_key(platform, who, "sign")
    if who.role is INSTITUTION:
        raise OwnKeyRequired(
            f"on a network deployment the platform holds no institution's key and does not "
            f"sign for {who.username}: sign the transaction yourself (POST /transactions/build, "
            f"then POST /transactions with the signed bytes, or `amanat --api URL --as "
            f"{who.username} --key YOUR-KEY.json ...`)",
            user=who.username,
        )


def holder_key(platform: Platform, who: Principal, what: str) -> str:
    """The key the platform signs `who`'s own transfer with (`what`, in words): refused unless
    `who` moves holdings (an institution user), the platform may hold its key
    (`require_server_key`) and it has one."""
    if who.role not in HOLDING_MOVERS:
        article = "an" if who.role.value[0] in "aeiou" else "a"
        raise Forbidden(
            f"{article} {who.role.value} may not {what} (institutions move their own holdings)",
            role=who.role.value,
        )
    require_server_key(platform, who)
    if not who.key_name:
        raise Forbidden(f"user {who.username} has no wallet key to sign with", role=who.role.value)
    return who.key_name


def scope_of(platform: Platform, who: Principal) -> Scope | None:
    """The institution's scope; None for staff (who see every institution)."""
    if who.role is not INSTITUTION:
        return None
    with platform.store.session() as session:
        identity = session.scalar(
            select(Institution.identity_number).where(Institution.id == who.institution_id)
        )
        wallets = session.scalars(
            select(Wallet.address).where(Wallet.institution_id == who.institution_id)
        )
        return Scope(identity, frozenset(wallets))


def require_own_identity(platform: Platform, who: Principal, identity: int) -> None:
    """Refuse an institution another institution's records."""
    scope = scope_of(platform, who)
    if scope is not None and scope.identity != identity:
        raise Forbidden(
            f"an institution sees only its own records (identity {scope.identity})",
            role=who.role.value,
        )


def require_own_wallet(platform: Platform, who: Principal, wallet: str) -> None:
    """Refuse an institution another party's wallet."""
    scope = scope_of(platform, who)
    if scope is not None and inputs.checksummed(wallet) not in scope.wallets:
        raise Forbidden(
            f"an institution sees only its own wallets; {wallet} is not one of them",
            role=who.role.value,
        )


def visible_identities(platform: Platform, who: Principal, count: int) -> range:
    """The identity numbers (1..count) `who` may see: all for staff, its own for an institution."""
    scope = scope_of(platform, who)
    if scope is None:
        return range(1, count + 1)
    return range(0) if scope.identity is None else range(scope.identity, scope.identity + 1)


def may_see_party(platform: Platform, who: Principal, wallet: str) -> bool:
    """Whether `who` may see the party behind `wallet` by name (staff; an institution: itself)."""
    scope = scope_of(platform, who)
    return scope is None or inputs.checksummed(wallet) in scope.wallets
