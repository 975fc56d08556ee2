"""An account is its identity provider's (issuer, subject): an e-mail address never links one."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.auth.session import SESSION_COOKIE
from app.db.models import AuditEvent, User
from app.main import create_app
from app.resources import Resources
from app.services import users
from app.services.users import LoginIdentity, SignInRefusal, SignInRefused
from tests import documents
from tests.conftest import lock_waiters, make_settings, serve
from tests.portal import Portal

ISSUER = "https://sso.example.com"
OTHER_ISSUER = "https://other-sso.example.com"


def identity(subject: str, email: str, **fields: Any) -> LoginIdentity:
    values: dict[str, Any] = {
        "provider": "oidc",
        "issuer": ISSUER,
        "subject": subject,
        "username": subject,
        "email": email,
        "full_name": subject.title(),
    }
    return LoginIdentity(**(values | fields))


async def sign_in(resources: Resources, identity: LoginIdentity) -> users.UserRead | SignInRefused:
    return await users.sign_in(
        users=resources.users,
        sync=resources.user_sync,
        settings=resources.settings,
        identity=identity,
    )


async def _rows(db_engine: AsyncEngine) -> tuple[list[User], list[AuditEvent]]:
    async with AsyncSession(db_engine) as session:
        found = list((await session.exec(select(User).order_by(col(User.created_at)))).all())
        events = list((await session.exec(select(AuditEvent))).all())
    return found, events


async def test_a_new_subject_with_another_accounts_email_is_refused_and_audited(
    resources: Resources, db_engine: AsyncEngine
) -> None:
    owner = await sign_in(resources, identity("ada", "ada@example.com"))
    assert isinstance(owner, users.UserRead)
    before, _ = await _rows(db_engine)

    # Another subject whose (unverified) e-mail claim is the owner's address.
    refused = await sign_in(resources, identity("mallory", "ada@example.com", email_verified=False))

    assert isinstance(refused, SignInRefused)
    assert refused.code is SignInRefusal.ACCOUNT_CONFLICT
    after, events = await _rows(db_engine)
    assert [u.model_dump() for u in after] == [u.model_dump() for u in before]
    [refusal] = [e for e in events if e.action == "user.login" and not e.success]
    assert refusal.action == "user.login"
    assert refusal.actor_id is None  # the newcomer has no account
    assert refusal.details == {
        "code": "ACCOUNT_CONFLICT",
        "provider": "oidc",
        "issuer": ISSUER,
        "subject": "mallory",
        "email_verified": False,
        "email_holder_id": str(owner.id),
    }


async def test_an_email_differing_only_in_case_is_the_same_address(
    resources: Resources, db_engine: AsyncEngine
) -> None:
    await sign_in(resources, identity("ada", "ada@example.com"))

    refused = await sign_in(resources, identity("mallory", "ADA@Example.com"))

    assert isinstance(refused, SignInRefused)
    assert refused.code is SignInRefusal.ACCOUNT_CONFLICT
    found, _ = await _rows(db_engine)
    assert [u.oauth_subject for u in found] == ["ada"]


async def test_two_first_sign_ins_racing_with_one_email_make_one_account(
    resources: Resources, db_engine: AsyncEngine
) -> None:
    """Both sign-ins find the address free before either writes: the database lets one in."""
    async with db_engine.connect() as holder:
        # Reads go on; writes to `users` wait until this transaction ends.
        await holder.execute(text("LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE"))
        racing = [
            asyncio.create_task(sign_in(resources, identity(subject, email)))
            for subject, email in (("ada", "ada@example.com"), ("eve", "Ada@Example.com"))
        ]
        waiting = await lock_waiters(db_engine, 2, stop=lambda: any(task.done() for task in racing))
        await holder.commit()
        outcomes = await asyncio.gather(*racing)

    assert waiting == 2, "both sign-ins were to reach their write before either made it"
    accounts = [o for o in outcomes if isinstance(o, users.UserRead)]
    refusals = [o for o in outcomes if isinstance(o, SignInRefused)]
    assert (len(accounts), [r.code for r in refusals]) == (1, [SignInRefusal.ACCOUNT_CONFLICT])
    found, events = await _rows(db_engine)
    assert [u.id for u in found] == [accounts[0].id]
    [refusal] = [e for e in events if e.action == "user.login" and not e.success]
    assert refusal.details is not None
    assert (refusal.details["code"], refusal.details["email_holder_id"]) == (
        "ACCOUNT_CONFLICT",
        str(accounts[0].id),
    )


async def test_an_account_whose_email_changes_to_another_accounts_is_not_overwritten(
    resources: Resources, db_engine: AsyncEngine
) -> None:
    await sign_in(resources, identity("ada", "ada@example.com"))
    await sign_in(resources, identity("ben", "ben@example.com"))
    before, _ = await _rows(db_engine)

    refused = await sign_in(
        resources, identity("ben", "ada@example.com", username="ben2", full_name="Not Ben")
    )

    assert isinstance(refused, SignInRefused)
    assert refused.code is SignInRefusal.ACCOUNT_CONFLICT
    after, events = await _rows(db_engine)
    assert [u.model_dump() for u in after] == [u.model_dump() for u in before]
    [refusal] = [e for e in events if e.action == "user.login" and not e.success]
    assert refusal.actor_id == before[1].id  # ben tried, and was refused


async def test_the_same_subject_from_another_issuer_is_another_account(
    resources: Resources, db_engine: AsyncEngine
) -> None:
    first = await sign_in(resources, identity("7", "ada@example.com"))
    second = await sign_in(resources, identity("7", "eve@example.com", issuer=OTHER_ISSUER))
    takeover = await sign_in(resources, identity("7", "ada@example.com", issuer=OTHER_ISSUER))

    assert isinstance(first, users.UserRead)
    assert isinstance(second, users.UserRead)
    assert first.id != second.id
    assert isinstance(takeover, SignInRefused)
    found, _ = await _rows(db_engine)
    assert [(u.oauth_issuer, u.email) for u in found] == [
        (ISSUER, "ada@example.com"),
        (OTHER_ISSUER, "eve@example.com"),
    ]


async def test_an_email_change_of_ones_own_account_is_kept(resources: Resources) -> None:
    first = await sign_in(resources, identity("ada", "ada@example.com"))
    again = await sign_in(resources, identity("ada", "ada@corp.example"))

    assert isinstance(first, users.UserRead)
    assert isinstance(again, users.UserRead)
    assert (again.id, again.email) == (first.id, "ada@corp.example")


async def test_an_account_recorded_before_issuers_is_claimed_by_its_own_provider_and_subject(
    resources: Resources, db_engine: AsyncEngine
) -> None:
    async with AsyncSession(db_engine) as session:
        legacy = User(
            username="ada",
            email="ada@example.com",
            oauth_provider="oidc",
            oauth_subject="ada",
            oauth_issuer=None,
            max_budget=100,
            tpm_limit=1,
            rpm_limit=1,
        )
        legacy_id = legacy.id
        session.add(legacy)
        await session.commit()

    # Another provider with the same subject does not get it (and the e-mail is taken).
    other_provider = await sign_in(
        resources, identity("ada", "ada@example.com", provider="openshift")
    )
    own = await sign_in(resources, identity("ada", "ada@example.com"))

    assert isinstance(other_provider, SignInRefused)
    assert other_provider.code is SignInRefusal.ACCOUNT_CONFLICT
    assert isinstance(own, users.UserRead)
    assert own.id == legacy_id
    found, _ = await _rows(db_engine)
    assert [(u.id, u.oauth_issuer) for u in found] == [(legacy_id, ISSUER)]


async def test_the_dev_login_refuses_an_email_that_belongs_to_another_account(
    client: httpx.AsyncClient, portal: Portal, db_engine: AsyncEngine
) -> None:
    owner = await portal.login("ada")
    client.cookies.clear()

    response = await client.post(
        "/auth/dev-login", json={"username": "mallory", "email": "ada@example.com"}
    )

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "ACCOUNT_CONFLICT"
    assert SESSION_COOKIE not in response.headers.get("set-cookie", "")
    assert await portal.gql(documents.ME) == {"data": {"me": None}}
    found, _ = await _rows(db_engine)
    assert [str(u.id) for u in found] == [owner]


async def test_login_allowed_groups_refuse_an_unknown_person_and_create_nothing(
    database_url: str, db_engine: AsyncEngine
) -> None:
    settings = make_settings(database_url=database_url, login_allowed_groups="litemaas-users, x")
    async with serve(create_app(settings)) as client:
        refused = await client.post(
            "/auth/dev-login",
            json={"username": "cy", "email": "cy@example.com", "groups": ["unrelated"]},
        )
        allowed = await client.post(
            "/auth/dev-login",
            json={"username": "dee", "email": "dee@example.com", "groups": ["litemaas-users"]},
        )

    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "NOT_ALLOWED"
    assert SESSION_COOKIE not in refused.headers.get("set-cookie", "")
    assert allowed.status_code == 200
    found, events = await _rows(db_engine)
    assert [u.username for u in found] == ["dee"]
    [refusal] = [e for e in events if e.action == "user.login" and not e.success]
    assert (refusal.actor_id, refusal.details["code"]) == (None, "NOT_ALLOWED")


async def test_a_person_who_left_the_allowed_groups_is_refused_and_signed_out(
    database_url: str, db_engine: AsyncEngine
) -> None:
    settings = make_settings(database_url=database_url, login_allowed_groups=["litemaas-users"])
    body = {"username": "ed", "email": "ed@example.com", "groups": ["litemaas-users"]}
    async with serve(create_app(settings)) as client:
        signed_in = await client.post("/auth/dev-login", json=body)
        session = client.cookies[SESSION_COOKIE]
        refused = await client.post("/auth/dev-login", json=body | {"groups": []})
        client.cookies.set(SESSION_COOKIE, session)
        me = (await client.post("/graphql", json={"query": documents.ME})).json()

    assert signed_in.status_code == 200
    assert refused.json()["error"]["code"] == "NOT_ALLOWED"
    assert me == {"data": {"me": None}}
    found, _ = await _rows(db_engine)
    assert [(u.username, u.session_generation) for u in found] == [("ed", 1)]
