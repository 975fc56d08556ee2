"""key lifecycle and spend: rotation grace, changes in flight, spend synced from LiteLLM

Revision ID: 0005_key_lifecycle
Revises: 0004_administration
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_key_lifecycle"
down_revision: str | None = "0004_administration"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("previous_secret_sha256", sa.String(length=64), nullable=True))
        batch.add_column(
            sa.Column("previous_valid_until", sa.DateTime(timezone=True), nullable=True)
        )
        batch.add_column(sa.Column("changing_since", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("spend", sa.Float(), nullable=True))
        batch.add_column(sa.Column("spend_synced_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_index(
            "ix_api_keys_previous_secret_sha256", ["previous_secret_sha256"], unique=True
        )
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("spend", sa.Float(), nullable=True))
        batch.add_column(sa.Column("budget_reset_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("spend_synced_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("spend_synced_at")
        batch.drop_column("budget_reset_at")
        batch.drop_column("spend")
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_index("ix_api_keys_previous_secret_sha256")
        batch.drop_column("spend_synced_at")
        batch.drop_column("spend")
        batch.drop_column("changing_since")
        batch.drop_column("previous_valid_until")
        batch.drop_column("previous_secret_sha256")
