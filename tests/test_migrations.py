from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlmodel import SQLModel

from app.db import migrate
from app.main import create_app
from app.services import users
from app.services.users import DEV_ISSUER
from tests.conftest import make_settings, scratch_postgres_database, serve

APP_TABLES = {t.name for t in SQLModel.metadata.sorted_tables}


async def _tables(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as conn:
        names = await conn.run_sync(lambda sync: inspect(sync).get_table_names())
    return set(names) - {"alembic_version"}


async def _up_and_down(engine: AsyncEngine) -> None:
    assert await _tables(engine) == set()

    await migrate.upgrade(engine)
    assert await _tables(engine) == APP_TABLES

    await migrate.downgrade(engine)
    assert await _tables(engine) == set()

    await migrate.upgrade(engine)  # and up again from empty
    assert await _tables(engine) == APP_TABLES


async def test_migrations_up_and_down_on_postgresql() -> None:
    async with scratch_postgres_database("litemaas_migrations") as url:
        engine = create_async_engine(url)
        try:
            await _up_and_down(engine)
        finally:
            await engine.dispose()


async def test_migrations_up_and_down_on_sqlite(tmp_path: Path) -> None:
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'litemaas.db'}")
    try:
        await _up_and_down(engine)
    finally:
        await engine.dispose()


async def test_migrations_match_the_models(database_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as conn:
            diff = await conn.run_sync(
                lambda sync: compare_metadata(
                    MigrationContext.configure(sync, opts={"compare_type": True}),
                    SQLModel.metadata,
                )
            )
    finally:
        await engine.dispose()
    assert diff == [], "models changed without a migration: add one in migrations/versions"


# A user row as revision 0001 wrote it.
_INSERT_0001_USER = text(
    "INSERT INTO users (id, username, email, oauth_provider, oauth_subject, roles, is_active, "
    "max_budget, tpm_limit, rpm_limit, sync_status, sync_attempts, created_at, updated_at) "
    "VALUES (:id, :subject, :email, :provider, :subject, '[\"user\"]', true, 100, 1000, 10, "
    "'synced', 0, now(), now())"
)


async def _insert_0001_user(engine: AsyncEngine, provider: str, subject: str) -> uuid.UUID:
    user_id = uuid.uuid4()
    async with engine.begin() as conn:
        await conn.execute(
            _INSERT_0001_USER,
            {
                "id": user_id,
                "subject": subject,
                "email": f"{subject}@example.com",
                "provider": provider,
            },
        )
    return user_id


async def test_0002_keeps_existing_users_and_they_sign_in_again_to_the_same_account() -> None:
    async with scratch_postgres_database("litemaas_migration_0002") as url:
        engine = create_async_engine(url)
        try:
            await migrate.upgrade(engine, "0001")
            dev_user = await _insert_0001_user(engine, "dev", "dora")
            sso_user = await _insert_0001_user(engine, "oidc", "ada")

            await migrate.upgrade(engine)
            async with engine.connect() as conn:
                upgraded = (
                    await conn.execute(
                        text(
                            "SELECT id, oauth_issuer, session_generation, email FROM users "
                            "ORDER BY username"
                        )
                    )
                ).all()
            app = create_app(make_settings(database_url=url))
            async with serve(app) as client:
                dev_again = await client.post(
                    "/auth/dev-login", json={"username": "dora", "email": "dora@example.com"}
                )
                resources = app.state.resources
                sso_again = await users.sign_in(
                    users=resources.users,
                    sync=resources.user_sync,
                    settings=resources.settings,
                    identity=users.LoginIdentity(
                        provider="oidc",
                        issuer="https://sso.example.com",
                        subject="ada",
                        username="ada",
                        email="ada@example.com",
                    ),
                )
                # Another issuer's "ada" is someone else: not linked, and the address is taken.
                impostor = await users.sign_in(
                    users=resources.users,
                    sync=resources.user_sync,
                    settings=resources.settings,
                    identity=users.LoginIdentity(
                        provider="oidc",
                        issuer="https://other.example.com",
                        subject="ada",
                        username="ada",
                        email="ada@example.com",
                    ),
                )

            await migrate.downgrade(engine, "0001")
            async with engine.connect() as conn:
                downgraded = (
                    await conn.execute(text("SELECT id, oauth_subject FROM users ORDER BY 2"))
                ).all()
                columns = await conn.run_sync(
                    lambda sync: {c["name"] for c in inspect(sync).get_columns("users")}
                )
        finally:
            await engine.dispose()

    assert [tuple(row) for row in upgraded] == [
        (sso_user, None, 0, "ada@example.com"),
        (dev_user, DEV_ISSUER, 0, "dora@example.com"),
    ]
    assert dev_again.status_code == 200
    assert dev_again.json()["id"] == str(dev_user)
    assert isinstance(sso_again, users.UserRead)
    assert (sso_again.id, sso_again.oauth_issuer) == (sso_user, "https://sso.example.com")
    assert isinstance(impostor, users.SignInRefused)
    assert [tuple(row) for row in downgraded] == [(sso_user, "ada"), (dev_user, "dora")]
    assert {"oauth_issuer", "session_generation"}.isdisjoint(columns)


async def test_0005_keeps_keys_and_users_and_downgrades() -> None:
    async with scratch_postgres_database("litemaas_migration_0005") as url:
        engine = create_async_engine(url)
        try:
            await migrate.upgrade(engine, "0004_administration")
            user_id = await _insert_0001_user(engine, "dev", "kim")
            key_id = uuid.uuid4()
            async with engine.begin() as conn:
                await conn.execute(
                    text(
                        "INSERT INTO api_keys (id, user_id, name, prefix, secret_sha256, status, "
                        "created_at, updated_at) VALUES (:id, :user, 'laptop', 'sk-abcde', "
                        "'ab12', 'active', now(), now())"
                    ),
                    {"id": key_id, "user": user_id},
                )

            await migrate.upgrade(engine)
            async with engine.connect() as conn:
                upgraded = (
                    await conn.execute(
                        text(
                            "SELECT k.name, k.secret_sha256, k.previous_secret_sha256, "
                            "k.changing_since, k.spend, u.spend, u.spend_synced_at "
                            "FROM api_keys k JOIN users u ON u.id = k.user_id"
                        )
                    )
                ).one()
            await migrate.downgrade(engine, "0004_administration")
            async with engine.connect() as conn:
                downgraded = (
                    await conn.execute(text("SELECT id, name, secret_sha256 FROM api_keys"))
                ).one()
                columns = await conn.run_sync(
                    lambda sync: {c["name"] for c in inspect(sync).get_columns("api_keys")}
                )
        finally:
            await engine.dispose()

    assert tuple(upgraded) == ("laptop", "ab12", None, None, None, None, None)
    assert tuple(downgraded) == (key_id, "laptop", "ab12")
    assert {"previous_secret_sha256", "changing_since", "spend"}.isdisjoint(columns)


async def test_0007_refuses_addresses_on_several_accounts_then_keeps_one_account_per_address() -> (
    None
):
    async with scratch_postgres_database("litemaas_migration_0007") as url:
        engine = create_async_engine(url)
        try:
            await migrate.upgrade(engine, "0006_runtime_settings")
            ids = {
                subject: await _insert_0001_user(engine, "dev", subject)
                for subject in ("ana", "ana2", "bo", "bo2", "cy", "nobody", "nobody2")
            }
            emails = {
                "ana": "Ana@Example.com",
                "ana2": "ana@example.com",
                "bo": "bo@example.com",
                "bo2": "BO@example.com",
                "nobody": "",
                "nobody2": "",
            }
            async with engine.begin() as conn:
                for subject, email in emails.items():
                    await conn.execute(
                        text("UPDATE users SET email = :email WHERE id = :id"),
                        {"email": email, "id": ids[subject]},
                    )

            with pytest.raises(Exception, match=r"2 e-mail address\(es\).*\(4 accounts") as refused:
                await migrate.upgrade(engine)
            async with engine.connect() as conn:
                stayed_at = await conn.scalar(text("SELECT version_num FROM alembic_version"))
            async with engine.begin() as conn:
                for subject in ("ana2", "bo2"):
                    await conn.execute(
                        text("UPDATE users SET email = :email WHERE id = :id"),
                        {"email": f"{subject}@example.com", "id": ids[subject]},
                    )
            await migrate.upgrade(engine)
            with pytest.raises(IntegrityError):
                async with engine.begin() as conn:
                    await conn.execute(
                        text("UPDATE users SET email = 'CY@example.com' WHERE id = :id"),
                        {"id": ids["ana"]},
                    )
            await migrate.downgrade(engine, "0006_runtime_settings")
            async with engine.begin() as conn:
                await conn.execute(
                    text("UPDATE users SET email = 'CY@example.com' WHERE id = :id"),
                    {"id": ids["ana"]},
                )
        finally:
            await engine.dispose()

    assert type(refused.value).__name__ == "DuplicateEmails"
    assert "then migrate again" in str(refused.value)
    assert "@" not in str(refused.value)  # counts, not the addresses themselves
    assert stayed_at == "0006_runtime_settings"
