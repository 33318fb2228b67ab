"""request execution: who executed a maker-checker request's proposal, by which transaction

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("action_requests") as batch:
        batch.add_column(sa.Column("executed_by", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("executed_tx", sa.String(length=66), nullable=True))
        batch.create_foreign_key(
            "fk_action_requests_executed_by_users", "users", ["executed_by"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("action_requests") as batch:
        batch.drop_constraint("fk_action_requests_executed_by_users", type_="foreignkey")
        batch.drop_column("executed_tx")
        batch.drop_column("executed_by")
