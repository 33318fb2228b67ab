"""Tables of the off-chain store. Amounts are integers (BigInteger); personal fields are encrypted."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


# ------------------------------------------------------------- people and roles


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    key_name: Mapped[str | None] = mapped_column(String(64))
    institution_id: Mapped[int | None] = mapped_column(ForeignKey("institutions.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AccessToken(Base):
    __tablename__ = "access_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Claim(Base):
    """A unique value taken by a request while it is under way (`amanat.store.claims`): of two
    requests for the same value at once, the database lets one through."""

    __tablename__ = "claims"

    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[str] = mapped_column(String(255), primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class SignInThrottle(Base):
    """Failed sign-ins of one username from one address: counted atomically (one row, updated in
    place) with a back-off that doubles per failure over the limit."""

    __tablename__ = "sign_in_throttles"

    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    source: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    last_failure: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    blocked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class LoginAttempt(Base):
    __tablename__ = "login_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), index=True)
    source: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    succeeded: Mapped[bool] = mapped_column(Boolean)


# -------------------------------------------------------------- institutions


class Institution(Base):
    """An onboarded institution. Personal fields are encrypted at rest; only the KYC hash is on chain."""

    __tablename__ = "institutions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    identity_number: Mapped[int | None] = mapped_column(Integer, unique=True)
    legal_name: Mapped[str] = mapped_column(String(200))
    country: Mapped[int] = mapped_column(Integer)
    category: Mapped[str] = mapped_column(String(32))
    lei: Mapped[str | None] = mapped_column(String(20))
    kyc_hash: Mapped[str] = mapped_column(String(66))
    kyc_expiry: Mapped[int] = mapped_column(BigInteger)
    personal_data: Mapped[bytes] = mapped_column(LargeBinary)  # encrypted JSON
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Wallet(Base):
    __tablename__ = "wallets"

    address: Mapped[str] = mapped_column(String(42), primary_key=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"), index=True)
    key_name: Mapped[str | None] = mapped_column(String(64))


class Document(Base):
    """A document stored content-addressed by SHA-256 (the hash that goes on chain)."""

    __tablename__ = "documents"

    sha256: Mapped[str] = mapped_column(String(66), primary_key=True)
    filename: Mapped[str] = mapped_column(String(255))
    media_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    uploaded_by: Mapped[str] = mapped_column(String(64))
    uploaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


# ----------------------------------------------------------- maker-checker


class ActionRequest(Base):
    """A privileged action proposed by one user and approved by M others before execution."""

    __tablename__ = "action_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    target: Mapped[str] = mapped_column(String(42))
    function: Mapped[str] = mapped_column(String(64))
    arguments: Mapped[dict] = mapped_column(JSON)
    # the ABI arguments of the call, as filed (`domain.governance.plain_arguments`): what an
    # official's own client checks the proposal it signs against (None: filed before 0006)
    call_arguments: Mapped[list | None] = mapped_column(JSON)
    evidence: Mapped[str | None] = mapped_column(String(66))
    summary: Mapped[str] = mapped_column(Text)
    proposal_id: Mapped[int | None] = mapped_column(Integer, unique=True)
    proposed_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(24))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # who executed the request's proposal, and by which transaction
    executed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    executed_tx: Mapped[str | None] = mapped_column(String(66))


class ActionDecision(Base):
    __tablename__ = "action_decisions"
    __table_args__ = (UniqueConstraint("request_id", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("action_requests.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    decision: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    tx_hash: Mapped[str | None] = mapped_column(String(66))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


# ------------------------------------------------------------------- audit


class AuditEntry(Base):
    """Append-only trail of API actions: who, what, when, from where, under which approval."""

    __tablename__ = "audit_trail"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    username: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(64))
    resource: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(64))
    status: Mapped[int] = mapped_column(Integer)
    approval_ref: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict] = mapped_column(JSON)
    previous_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64))


class AuditState(Base):
    """The audit trail's size, one row: every append increments it first, which serialises
    appends (the row lock on PostgreSQL, the write lock on SQLite) so each entry chains to the
    entry committed before it."""

    __tablename__ = "audit_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)


class IdempotencyRecord(Base):
    """A POST's result under its key; `fingerprint` is the SHA-256 of the request it answered
    (method, route, principal, body), so a key reused for another request is refused."""

    __tablename__ = "idempotency_records"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    method_path: Mapped[str] = mapped_column(String(255))
    fingerprint: Mapped[str] = mapped_column(String(64), default="")
    status: Mapped[int] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


# ------------------------------------------------------------- indexed chain


class IndexerState(Base):
    __tablename__ = "indexer_state"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    block: Mapped[int] = mapped_column(BigInteger)


class IndexedBlock(Base):
    """Hash of each indexed block, to detect reorganisations below the confirmation depth."""

    __tablename__ = "indexed_blocks"

    number: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    hash: Mapped[str] = mapped_column(String(66))
    timestamp: Mapped[int] = mapped_column(BigInteger, index=True)


class ChainEvent(Base):
    """Every Amanat event, decoded."""

    __tablename__ = "chain_events"
    __table_args__ = (
        Index("ix_chain_events_contract_event", "contract", "event"),
        Index("ix_chain_events_asset", "asset_id", "block"),
        Index("ix_chain_events_wallet", "wallet", "block"),
    )

    block: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    log_index: Mapped[int] = mapped_column(Integer, primary_key=True)
    tx_hash: Mapped[str] = mapped_column(String(66))
    contract: Mapped[str] = mapped_column(String(42))
    contract_kind: Mapped[str] = mapped_column(String(24))
    event: Mapped[str] = mapped_column(String(40))
    asset_id: Mapped[int | None] = mapped_column(Integer)
    wallet: Mapped[str | None] = mapped_column(String(42))
    timestamp: Mapped[int] = mapped_column(BigInteger)
    args: Mapped[dict] = mapped_column(JSON)


class Token(Base):
    __tablename__ = "tokens"

    address: Mapped[str] = mapped_column(String(42), primary_key=True)
    asset_id: Mapped[int] = mapped_column(Integer, unique=True)
    symbol: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(64))
    created_block: Mapped[int] = mapped_column(BigInteger)


class Holding(Base):
    """A holder's balance of a token over a half-open range of blocks [from_block, to_block).

    The cap table as of block B is every row with from_block <= B < to_block (to_block NULL =
    still current) and a positive balance: one indexed range scan, however long the history."""

    __tablename__ = "holdings"
    __table_args__ = (
        Index("ix_holdings_asof", "token", "from_block", "to_block"),
        Index("ix_holdings_current", "token", "holder", "to_block"),
        Index("ix_holdings_holder", "holder", "to_block"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    token: Mapped[str] = mapped_column(String(42))
    holder: Mapped[str] = mapped_column(String(42))
    balance: Mapped[int] = mapped_column(BigInteger)
    from_block: Mapped[int] = mapped_column(BigInteger)
    to_block: Mapped[int | None] = mapped_column(BigInteger)


# ------------------------------------------------------------- transparency


class LogEntry(Base):
    """One leaf of the public transparency log: canonical JSON bytes, never changed or deleted."""

    __tablename__ = "log_entries"

    index: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(24))
    source: Mapped[str] = mapped_column(String(200))
    leaf: Mapped[bytes] = mapped_column(LargeBinary)
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class LogState(Base):
    """The log's size, one row: appends increment it first, which serialises them (the row
    lock on PostgreSQL, the write lock on SQLite) so indexes follow commit order with no gap."""

    __tablename__ = "log_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)


class TreeHead(Base):
    """A signed tree head and, once anchored, the anchoring transaction."""

    __tablename__ = "tree_heads"

    tree_size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    root_hash: Mapped[str] = mapped_column(String(66))
    timestamp: Mapped[int] = mapped_column(BigInteger)
    signature: Mapped[str] = mapped_column(String(100))
    anchor_tx: Mapped[str | None] = mapped_column(String(66))
    anchor_block: Mapped[int | None] = mapped_column(BigInteger)


class Reconciliation(Base):
    """One reconciliation run: chain vs index vs registry, and the differences found."""

    __tablename__ = "reconciliations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    block: Mapped[int] = mapped_column(BigInteger)
    checked: Mapped[int] = mapped_column(Integer)
    differences: Mapped[list] = mapped_column(JSON)
