"""service integrity: the audit append lock row, idempotency fingerprints, sign-in throttles

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.execute("INSERT INTO audit_state (id, size) SELECT 1, COUNT(*) FROM audit_trail")
    with op.batch_alter_table("idempotency_records") as batch:
        batch.add_column(
            sa.Column("fingerprint", sa.String(length=64), nullable=False, server_default="")
        )
    op.create_table(
        "sign_in_throttles",
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure", sa.DateTime(timezone=True), nullable=False),
        sa.Column("blocked_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("username", "source"),
    )


def downgrade() -> None:
    op.drop_table("sign_in_throttles")
    with op.batch_alter_table("idempotency_records") as batch:
        batch.drop_column("fingerprint")
    op.drop_table("audit_state")
