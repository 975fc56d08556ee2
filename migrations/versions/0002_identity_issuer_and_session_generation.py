"""identity issuer and session generation

An account is its identity provider's (issuer, subject). Accounts recorded before this revision
have no issuer: development accounts get the development issuer here; the others keep NULL until
their first sign-in through the provider they were recorded with (same provider name and
subject) records the issuer it presents. `session_generation` is carried by every session
cookie, so raising it ends the user's sessions.

Downgrading drops both columns and restores uniqueness on (provider, subject): it fails if two
issuers of one provider name have given the same subject since the upgrade.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The issuer of development logins (app.services.users.DEV_ISSUER), written here as it was
# when this revision was made.
_DEV_PROVIDER = "dev"
_DEV_ISSUER = "urn:litemaas:dev-login"


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("oauth_issuer", sa.String(length=512), nullable=True))
        batch.add_column(
            sa.Column("session_generation", sa.Integer(), nullable=False, server_default="0")
        )
        batch.drop_constraint("uq_users_oauth_identity", type_="unique")
        batch.create_unique_constraint("uq_users_issuer_subject", ["oauth_issuer", "oauth_subject"])
    users = sa.table("users", sa.column("oauth_provider"), sa.column("oauth_issuer"))
    op.execute(
        users.update()
        .where(users.c.oauth_provider == _DEV_PROVIDER)
        .values(oauth_issuer=_DEV_ISSUER)
    )


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_constraint("uq_users_issuer_subject", type_="unique")
        batch.create_unique_constraint(
            "uq_users_oauth_identity", ["oauth_provider", "oauth_subject"]
        )
        batch.drop_column("session_generation")
        batch.drop_column("oauth_issuer")
