"""administration: the history of each subscription's status, and audit events found by subject

Every existing subscription gets one history step: its current status, from its creation, by
no one known. Downgrading drops the history and the two indexes.

Revision ID: 0004_administration
Revises: 0003
Create Date: 2026-11-30
"""

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_administration"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_STATUS = sa.Enum(
    "active",
    "pending",
    "denied",
    "cancelled",
    "suspended",
    "expired",
    name="subscriptionstatus",
    native_enum=False,
    length=16,
)


def upgrade() -> None:
    changes = op.create_table(
        "subscription_status_changes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("subscription_id", sa.Uuid(), nullable=False),
        sa.Column("from_status", _STATUS, nullable=True),
        sa.Column("to_status", _STATUS, nullable=False),
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["subscription_id"], ["subscriptions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_subscription_status_changes_subscription",
        "subscription_status_changes",
        ["subscription_id", "created_at"],
    )
    op.create_index("ix_audit_events_resource", "audit_events", ["resource_id", "created_at"])
    op.create_index("ix_audit_events_created_at", "audit_events", ["created_at"])

    subscriptions = sa.table(
        "subscriptions", sa.column("id", sa.Uuid()), sa.column("status"), sa.column("created_at")
    )
    existing = op.get_bind().execute(
        sa.select(subscriptions.c.id, subscriptions.c.status, subscriptions.c.created_at)
    )
    rows = [
        {
            "id": uuid.uuid4(),
            "subscription_id": subscription_id,
            "from_status": None,
            "to_status": status,
            "actor_id": None,
            "reason": None,
            "created_at": created_at,
        }
        for subscription_id, status, created_at in existing
    ]
    if rows:
        op.bulk_insert(changes, rows)


def downgrade() -> None:
    op.drop_index("ix_audit_events_created_at", table_name="audit_events")
    op.drop_index("ix_audit_events_resource", table_name="audit_events")
    op.drop_index(
        "ix_subscription_status_changes_subscription", table_name="subscription_status_changes"
    )
    op.drop_table("subscription_status_changes")
