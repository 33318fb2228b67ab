"""Pilot users for the embedded platform: one per role, with development passwords."""

from __future__ import annotations

from sqlalchemy import select

from amanat.demo import INSTITUTIONS
from amanat.services.accounts import Role, create_user
from amanat.services.platform import Platform
from amanat.store.models import Institution, User, Wallet

# username, role, signing key (None: the role never signs on chain)
PILOT_USERS: list[tuple[str, Role, str | None]] = [
    ("treasury", Role.ISSUER, "issuer"),
    ("approver-1", Role.APPROVER, "official-1"),
    ("approver-2", Role.APPROVER, "official-2"),
    ("approver-3", Role.APPROVER, "official-3"),
    ("registrar", Role.REGISTRAR, "registrar"),
    ("valuer", Role.VALUER, "valuer"),
    # A valuer who signs with the reserve auditor's key: the chain accepts its attestations.
    ("reserve-auditor", Role.VALUER, "reserve-auditor"),
    ("enforcement", Role.AGENT, None),
    # An agent with its own key, paying distributions (anyone may push proven payouts).
    ("paying-agent", Role.AGENT, "paying-agent"),
    ("auditor", Role.AUDITOR, None),
    ("regulator", Role.REGULATOR, None),
]


def pilot_password(username: str) -> str:
    """DEVELOPMENT ONLY: the embedded pilot's password for `username`."""
    return f"{username}-pilot-pass"


def create_pilot_users(platform: Platform) -> list[tuple[str, str, str]]:
    """Create the pilot users (and one per pilot institution) unless they exist."""
    created = []
    with platform.store.session() as session:
        existing = set(session.scalars(select(User.username)))
        institutions = {
            key: session.scalar(
                select(Institution.id)
                .join(Wallet, Wallet.institution_id == Institution.id)
                .where(Wallet.key_name == key)
            )
            for key, *_ in INSTITUTIONS
        }
    users: list[tuple[str, Role, str | None, int | None]] = [
        (u, r, k, None) for u, r, k in PILOT_USERS
    ]
    users += [
        (key, Role.INSTITUTION, key, institutions[key])
        for key, *_ in INSTITUTIONS
        if institutions[key]
    ]
    for username, role, key, institution in users:
        if username in existing:
            continue
        create_user(platform.store, username, pilot_password(username), role, key, institution)
        created.append((username, role.value, pilot_password(username)))
    return created
