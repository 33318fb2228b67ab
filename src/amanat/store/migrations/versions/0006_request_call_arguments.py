"""request call arguments: the ABI arguments of a maker-checker request's call, fixed when filed

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("action_requests") as batch:
        batch.add_column(sa.Column("call_arguments", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("action_requests") as batch:
        batch.drop_column("call_arguments")
