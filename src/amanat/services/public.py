"""What each audience may read of the public routes (docs/public-data.md), for every face.

The API's public routes, the portal and the CLI pass what they read through here with the
reader (None: the public). Staff read the register in full; the public and institutions read
aggregates only: no holder count below the disclosure threshold, no paid or held figure that
gives away a few holders' shares, no named bidder other than the reader itself, and the
transparency log's chain events by their hashes only (their content is for oversight).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from amanat.domain.disclosure import DEFAULT_THRESHOLD, publishable
from amanat.services import access, transparency
from amanat.services.accounts import Principal
from amanat.services.platform import Platform

# Log entries whose leaves anyone may read: the audit trail's public leaves (hash, action,
# resource, outcome) and reorganisation notices. Chain events carry parties and amounts.
PUBLIC_LEAF_KINDS = frozenset({"audit", "reorganisation"})


def sees_register(who: Principal | None) -> bool:
    """Whether `who` reads the register in full (staff), not its public aggregates."""
    return who is not None and who.role in access.STAFF


def sees_log(who: Principal | None) -> bool:
    """Whether `who` reads every transparency-log leaf in full (oversight)."""
    return who is not None and who.role in access.OVERSIGHT


def log_entries(
    session: Session, who: Principal | None, start: int, limit: int
) -> list[dict[str, Any]]:
    """A page of log entries; a leaf the reader may not read is withheld (None), its hash kept,
    so heads, inclusion and consistency still verify."""
    rows = transparency.entries(session, start, limit)
    if sees_log(who):
        return rows
    return [r if r["kind"] in PUBLIC_LEAF_KINDS else {**r, "leaf": None} for r in rows]


def holder_count(count: int, who: Principal | None) -> int | None:
    """A token's number of holders as `who` may read it (None: withheld, below the threshold)."""
    if sees_register(who) or count == 0 or count >= DEFAULT_THRESHOLD:
        return count
    return None


def foreign_held(units: int, who: Principal | None) -> int | None:
    """A token's units held by foreign holders, for staff only: it can be one holder's."""
    return units if sees_register(who) else None


def token_summary(row: dict[str, Any], who: Principal | None) -> dict[str, Any]:
    return {**row, "holders": holder_count(row["holders"], who)}


def distribution(row: dict[str, Any], who: Principal | None) -> dict[str, Any]:
    """A distribution as `who` may read it. A held payout belongs to a few frozen holders, and
    declared minus paid would give their shares away: paid and held are withheld from the
    public while anything is held, and while the payouts made (or not yet made) cover fewer
    holders than the threshold; below the threshold every figure that counts them is withheld."""
    if sees_register(who):
        return row
    holders = row["holders"]
    shown = not row["held_minor"] and publishable(row["payouts_made"], holders)
    redacted = {**row, "holders": holder_count(holders, who)}
    if not shown:
        redacted.update(paid_minor=None, paid=None, held_minor=None, held=None)
    if redacted["holders"] is None:
        # the tree's depth, the payouts made, "complete" and (for one holder, its leaf) the root
        # would each tell how many holders there are, or what one holder is paid
        redacted.update(
            {k: None for k in ("depth", "payouts_made", "complete", "root") if k in row}
        )
    return redacted


def auction_events(
    platform: Platform, who: Principal | None, events: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """An auction's events as `who` may read them: named bidders for the allocation's readers,
    an institution's own bids, and for everyone the auction's terms and results."""
    if who is not None and who.role in access.ALLOCATION_READERS:
        return events
    scope = access.scope_of(platform, who) if who is not None else None
    own = scope.wallets if scope is not None else frozenset()
    return [e for e in events if "bidder" not in e or e["bidder"] in own]
