"""one account per e-mail address: a unique index on lower(email)

Revision ID: 0007_users_email_unique
Revises: 0006_runtime_settings
Create Date: 2026-11-30

A database that already holds one address (compared without case) on several accounts cannot
take the index: the upgrade stops before changing anything and says how many addresses and
accounts, and how to find them. Nothing is merged or renamed automatically: which account
keeps an address is a person's decision.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_users_email_unique"
down_revision: str | None = "0006_runtime_settings"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "uq_users_email_lower"
# Empty addresses (none is accepted at sign-in; older rows may have one) link nothing.
NOT_EMPTY = "email <> ''"
DUPLICATES = (
    "SELECT lower(email) AS address, count(*) AS accounts FROM users WHERE email <> '' "
    "GROUP BY lower(email) HAVING count(*) > 1"
)


class DuplicateEmails(RuntimeError):
    """Some e-mail addresses are on more than one account."""


def upgrade() -> None:
    duplicates = op.get_bind().execute(sa.text(DUPLICATES)).all()
    if duplicates:
        raise DuplicateEmails(
            f"{len(duplicates)} e-mail address(es) are each on more than one account "
            f"({sum(row.accounts for row in duplicates)} accounts; compared without case), so "
            "one account per address cannot be enforced. Nothing was changed. Decide which "
            "account keeps each address and give the others another one (or remove them), "
            "then migrate again. The addresses: " + DUPLICATES + ";"
        )
    op.create_index(
        INDEX,
        "users",
        [sa.text("lower(email)")],
        unique=True,
        postgresql_where=sa.text(NOT_EMPTY),
        sqlite_where=sa.text(NOT_EMPTY),
    )


def downgrade() -> None:
    op.drop_index(INDEX, table_name="users")
