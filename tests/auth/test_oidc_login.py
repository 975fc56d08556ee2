"""OpenID Connect login against panva's oidc-provider, driven over HTTP as a browser would."""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.auth.session import SESSION_COOKIE
from app.db.models import AuditEvent, User
from app.main import create_app
from tests import documents
from tests.auth.conftest import (
    PUBLIC_URL,
    SECOND_PUBLIC_URL,
    SESSION_SECRET,
    browser_client,
    login_error,
    oidc_settings,
)
from tests.auth.oidc_provider import CLIENT_ID, OidcTestProvider, sign_in_at_provider
from tests.auth.session_cookie import read_session, write_session
from tests.scrape import recorded

CALLBACK = f"{PUBLIC_URL}/auth/callback"
SIGN_INS = "litemaas_sign_ins_total"


async def _me(client: httpx.AsyncClient, base_url: str = PUBLIC_URL) -> object:
    response = await client.post(f"{base_url}/graphql", json={"query": documents.ME})
    return response.json()["data"]["me"]


async def _users(db_engine: AsyncEngine) -> list[User]:
    async with AsyncSession(db_engine) as session:
        return list((await session.exec(select(User))).all())


async def test_login_signs_in_with_roles_from_groups_and_returns_to_the_frontend(
    database_url: str, db_engine: AsyncEngine, oidc_provider: OidcTestProvider
) -> None:
    app = create_app(oidc_settings(database_url, oidc_provider.issuer))
    async with browser_client({PUBLIC_URL: app}) as client:
        login_url = f"{PUBLIC_URL}/auth/login?{urlencode({'redirect': '/models?tab=2'})}"
        login = await client.get(login_url)
        authorize = urlsplit(login.headers["location"])
        request = {k: v[0] for k, v in parse_qs(authorize.query).items()}
        pending = read_session(client.cookies[SESSION_COOKIE], SESSION_SECRET)
        callback_url = await sign_in_at_provider(
            client, login_url, login="ada", callback_url=CALLBACK
        )
        callback = await client.get(callback_url)
        me = await _me(client)
        session = read_session(client.cookies[SESSION_COOKIE], SESSION_SECRET)

    assert login.status_code == 302
    assert f"{authorize.scheme}://{authorize.netloc}" == oidc_provider.issuer
    assert request["client_id"] == CLIENT_ID
    assert request["redirect_uri"] == CALLBACK
    assert request["code_challenge_method"] == "S256"
    assert request.keys() >= {"state", "nonce", "code_challenge"}
    # The login in progress is in the cookie, and so is where to go afterwards.
    state_keys = [k for k in pending if k.startswith("_state_oidc_")]
    assert len(state_keys) == 1
    assert set(pending[state_keys[0]]["data"]) >= {"nonce", "code_verifier", "redirect_uri"}
    assert pending["login_return_to"] == "/models?tab=2"

    assert callback.status_code == 302
    assert callback.headers["location"] == "/models?tab=2"
    assert recorded(app.state.resources.metrics, SIGN_INS, outcome="succeeded") == 1
    set_cookie = callback.headers["set-cookie"].lower()
    assert "httponly" in set_cookie
    assert "samesite=lax" in set_cookie
    assert "secure" not in set_cookie  # development over plain http
    assert isinstance(me, dict)
    assert {key: me[key] for key in ("id", "username", "email", "fullName", "roles")} == {
        "id": session["uid"],
        "username": "ada",
        "email": "ada@example.com",
        "fullName": "Ada Lovelace",
        "roles": ["admin", "user"],
    }
    # Signed, not encrypted: the user id, their session generation and an expiry, nothing else.
    assert set(session) == {"uid", "gen", "exp"}
    [user] = await _users(db_engine)
    # The account is the ID token's (iss, sub).
    assert (user.oauth_provider, user.oauth_issuer, user.oauth_subject) == (
        "oidc",
        oidc_provider.issuer,
        "ada",
    )


async def test_a_second_instance_finishes_a_login_the_first_one_started(
    database_url: str, db_engine: AsyncEngine, oidc_provider: OidcTestProvider
) -> None:
    # Two replicas behind one public address: the login starts on one, the callback hits the
    # other. Only the shared SESSION_SECRET ties them together.
    settings = oidc_settings(database_url, oidc_provider.issuer, public_url=SECOND_PUBLIC_URL)
    first, second = create_app(settings), create_app(settings)
    async with browser_client({PUBLIC_URL: first, SECOND_PUBLIC_URL: second}) as client:
        callback_url = await sign_in_at_provider(
            client,
            f"{PUBLIC_URL}/auth/login",
            login="ben",
            callback_url=f"{SECOND_PUBLIC_URL}/auth/callback",
        )
        callback = await client.get(callback_url)
        me_on_second = await _me(client, SECOND_PUBLIC_URL)
        me_on_first = await _me(client, PUBLIC_URL)

    assert callback.status_code == 302
    # No `redirect`: the frontend's home (FRONTEND_URL, by default PUBLIC_URL).
    assert callback.headers["location"] == f"{SECOND_PUBLIC_URL}/"
    assert isinstance(me_on_second, dict)
    assert me_on_second["username"] == "ben"
    assert me_on_second["roles"] == ["admin-readonly", "user"]
    assert me_on_first == me_on_second
    assert [u.username for u in await _users(db_engine)] == ["ben"]


async def test_an_allowed_frontend_origin_is_a_valid_return_target(
    database_url: str, oidc_provider: OidcTestProvider
) -> None:
    frontend = "http://127.0.0.1:4292"
    app = create_app(oidc_settings(database_url, oidc_provider.issuer, frontend_origins=[frontend]))
    target = f"{frontend}/subscriptions?x=1"
    async with browser_client({PUBLIC_URL: app}) as client:
        callback_url = await sign_in_at_provider(
            client,
            f"{PUBLIC_URL}/auth/login?{urlencode({'redirect': target})}",
            login="cy",
            callback_url=CALLBACK,
        )
        callback = await client.get(callback_url)

    assert callback.status_code == 302
    assert callback.headers["location"] == target


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/steal",
        "//evil.example/steal",
        "/\\evil.example/steal",
        "http://127.0.0.1:4292/not-allowed-here",
        "https://127.0.0.1:4290@evil.example/",
        "javascript:alert(1)",
        "/ok\r\nSet-Cookie: x=1",
    ],
)
async def test_login_refuses_a_redirect_outside_the_allow_list(
    database_url: str, oidc_provider: OidcTestProvider, target: str
) -> None:
    app = create_app(oidc_settings(database_url, oidc_provider.issuer))
    async with browser_client({PUBLIC_URL: app}) as client:
        response = await client.get(f"{PUBLIC_URL}/auth/login", params={"redirect": target})

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "VALIDATION_FAILED"
    assert "location" not in response.headers
    assert SESSION_COOKIE not in response.headers.get("set-cookie", "")


async def test_a_wrong_state_is_refused_and_the_pending_login_is_dropped(
    database_url: str, db_engine: AsyncEngine, oidc_provider: OidcTestProvider
) -> None:
    app = create_app(oidc_settings(database_url, oidc_provider.issuer))
    async with browser_client({PUBLIC_URL: app}) as client:
        callback_url = await sign_in_at_provider(
            client, f"{PUBLIC_URL}/auth/login", login="ada", callback_url=CALLBACK
        )
        query = parse_qs(urlsplit(callback_url).query)
        forged = f"{CALLBACK}?{urlencode({'code': query['code'][0], 'state': 'forged-state'})}"
        wrong = await client.get(forged)
        # The genuine answer no longer works either: the pending login was removed.
        genuine = await client.get(callback_url)
        me = await _me(client)
        cookie = client.cookies.get(SESSION_COOKIE)

    assert login_error(wrong) == "INVALID_STATE"
    assert login_error(genuine) == "INVALID_STATE"
    metrics = app.state.resources.metrics
    assert recorded(metrics, SIGN_INS, outcome="invalid_state") == 2
    assert recorded(metrics, SIGN_INS, outcome="succeeded") == 0
    assert recorded(metrics, "litemaas_sign_in_duration_seconds_count") == 2
    assert me is None
    assert cookie is None  # an empty session: the cookie was deleted
    assert await _users(db_engine) == []


async def test_a_missing_state_is_refused(
    database_url: str, db_engine: AsyncEngine, oidc_provider: OidcTestProvider
) -> None:
    app = create_app(oidc_settings(database_url, oidc_provider.issuer))
    async with browser_client({PUBLIC_URL: app}) as client:
        callback_url = await sign_in_at_provider(
            client, f"{PUBLIC_URL}/auth/login", login="ada", callback_url=CALLBACK
        )
        code = parse_qs(urlsplit(callback_url).query)["code"][0]
        response = await client.get(CALLBACK, params={"code": code})
        me = await _me(client)

    assert login_error(response) == "INVALID_STATE"
    assert me is None
    assert await _users(db_engine) == []


async def test_a_replayed_code_is_refused(
    database_url: str,
    db_engine: AsyncEngine,
    oidc_provider: OidcTestProvider,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("INFO", logger="app.auth.routes")
    app = create_app(oidc_settings(database_url, oidc_provider.issuer))
    async with browser_client({PUBLIC_URL: app}) as client:
        callback_url = await sign_in_at_provider(
            client, f"{PUBLIC_URL}/auth/login", login="ada", callback_url=CALLBACK
        )
        # Someone who copied the cookie and the callback URL before the login finished.
        stolen_cookie = client.cookies[SESSION_COOKIE]
        first = await client.get(callback_url)
        client.cookies.clear()
        client.cookies.set(SESSION_COOKIE, stolen_cookie)
        replay = await client.get(callback_url)
        me = await _me(client)

    assert first.status_code == 302
    assert login_error(replay) == "PROVIDER_ERROR"
    # The provider's own words are for operators: in the log, not in front of the person.
    assert "invalid_grant" in caplog.text
    assert "invalid_grant" not in replay.headers["location"]
    assert me is None
    assert len(await _users(db_engine)) == 1


async def test_an_id_token_with_another_nonce_is_refused(
    database_url: str,
    db_engine: AsyncEngine,
    oidc_provider: OidcTestProvider,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("INFO", logger="app.auth.routes")
    app = create_app(oidc_settings(database_url, oidc_provider.issuer))
    async with browser_client({PUBLIC_URL: app}) as client:
        callback_url = await sign_in_at_provider(
            client, f"{PUBLIC_URL}/auth/login", login="ada", callback_url=CALLBACK
        )
        # The provider signed a nonce this browser's pending login did not ask for.
        session = read_session(client.cookies[SESSION_COOKIE], SESSION_SECRET)
        [key] = [k for k in session if k.startswith("_state_oidc_")]
        session[key]["data"]["nonce"] = "a-nonce-from-another-login"
        client.cookies.set(SESSION_COOKIE, write_session(session, SESSION_SECRET))
        response = await client.get(callback_url)
        me = await _me(client)

    assert login_error(response) == "INVALID_ID_TOKEN"
    assert "nonce" in caplog.text
    assert me is None
    assert await _users(db_engine) == []


async def test_an_answer_naming_another_issuer_is_refused(
    database_url: str, db_engine: AsyncEngine, oidc_provider: OidcTestProvider
) -> None:
    app = create_app(oidc_settings(database_url, oidc_provider.issuer))
    async with browser_client({PUBLIC_URL: app}) as client:
        callback_url = await sign_in_at_provider(
            client, f"{PUBLIC_URL}/auth/login", login="ada", callback_url=CALLBACK
        )
        mixed_up = callback_url.replace(
            urlencode({"iss": oidc_provider.issuer}), urlencode({"iss": "http://127.0.0.1:1"})
        )
        response = await client.get(mixed_up)

    assert mixed_up != callback_url
    assert login_error(response) == "PROVIDER_ERROR"
    assert await _users(db_engine) == []


async def test_a_provider_error_answer_is_refused(
    database_url: str, oidc_provider: OidcTestProvider, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="app.auth.routes")
    app = create_app(oidc_settings(database_url, oidc_provider.issuer))
    async with browser_client({PUBLIC_URL: app}) as client:
        login = await client.get(f"{PUBLIC_URL}/auth/login")
        state = parse_qs(urlsplit(login.headers["location"]).query)["state"][0]
        response = await client.get(
            CALLBACK,
            params={"error": "access_denied", "error_description": "declined", "state": state},
        )

    assert login_error(response) == "PROVIDER_ERROR"
    assert "access_denied: declined" in caplog.text


async def test_logout_clears_the_session_and_ends_the_provider_session(
    database_url: str, oidc_provider: OidcTestProvider
) -> None:
    app = create_app(oidc_settings(database_url, oidc_provider.issuer))
    async with browser_client({PUBLIC_URL: app}) as client:
        callback_url = await sign_in_at_provider(
            client, f"{PUBLIC_URL}/auth/login", login="ada", callback_url=CALLBACK
        )
        await client.get(callback_url)
        signed_in = await _me(client)
        logout = await client.post(f"{PUBLIC_URL}/auth/logout")
        after = await _me(client)
        # The provider accepts the end-session request and offers to sign out there too.
        end_session = await client.get(logout.headers["location"])

    assert signed_in is not None
    assert logout.status_code == 303
    target = urlsplit(logout.headers["location"])
    end_session_endpoint = f"{oidc_provider.issuer}/session/end"
    assert f"{target.scheme}://{target.netloc}{target.path}" == end_session_endpoint
    assert parse_qs(target.query) == {
        "client_id": [CLIENT_ID],
        "post_logout_redirect_uri": [f"{PUBLIC_URL}/"],
    }
    assert after is None
    assert end_session.status_code == 200
    assert "logout" in end_session.text.lower()


async def test_the_provider_being_down_sends_the_browser_back_with_a_code(
    database_url: str,
) -> None:
    frontend = "https://portal.example.com/app"
    app = create_app(oidc_settings(database_url, "http://127.0.0.1:1", frontend_url=frontend))
    async with browser_client({PUBLIC_URL: app}) as client:
        response = await client.get(f"{PUBLIC_URL}/auth/login")

    assert login_error(response, f"{frontend}/") == "IDENTITY_PROVIDER_UNAVAILABLE"
    metrics = app.state.resources.metrics
    assert recorded(metrics, SIGN_INS, outcome="identity_provider_unavailable") == 1


async def test_the_database_being_down_at_the_callback_sends_the_browser_back_with_a_code(
    oidc_provider: OidcTestProvider,
) -> None:
    frontend = "https://portal.example.com/app"
    # Nothing listens on port 1: the login starts (it needs no database), the callback cannot.
    down = "postgresql+asyncpg://postgres@127.0.0.1:1/litemaas"
    app = create_app(oidc_settings(down, oidc_provider.issuer, frontend_url=frontend))
    async with browser_client({PUBLIC_URL: app}) as client:
        callback_url = await sign_in_at_provider(
            client, f"{PUBLIC_URL}/auth/login", login="ada", callback_url=CALLBACK
        )
        callback = await client.get(callback_url)
        cookie = client.cookies.get(SESSION_COOKIE)

    assert login_error(callback, f"{frontend}/") == "DATABASE_UNAVAILABLE"
    assert cookie is None or "uid" not in read_session(cookie, SESSION_SECRET)
    assert recorded(app.state.resources.metrics, SIGN_INS, outcome="error") == 1


async def test_sso_routes_are_absent_when_auth_mode_is_dev(client: httpx.AsyncClient) -> None:
    login = await client.get("/auth/login")
    callback = await client.get("/auth/callback", params={"code": "c", "state": "s"})

    assert (login.status_code, callback.status_code) == (404, 404)


async def _sign_in(client: httpx.AsyncClient, login: str, query: str = "") -> httpx.Response:
    callback_url = await sign_in_at_provider(
        client, f"{PUBLIC_URL}/auth/login{query}", login=login, callback_url=CALLBACK
    )
    return await client.get(callback_url)


async def test_a_second_subject_with_anothers_email_is_refused_and_changes_nothing(
    database_url: str, db_engine: AsyncEngine, oidc_provider: OidcTestProvider
) -> None:
    settings = oidc_settings(database_url, oidc_provider.issuer)
    # Two browsers; each app is a replica of the service with its own lifespan.
    async with browser_client({PUBLIC_URL: create_app(settings)}) as owner:
        await _sign_in(owner, "ada")
        before = await _me(owner)
        [ada_before] = await _users(db_engine)
        async with browser_client({PUBLIC_URL: create_app(settings)}) as attacker:
            refused = await _sign_in(attacker, "mallory")
            attacker_me = await _me(attacker)
        owner_after = await _me(owner)

    assert login_error(refused) == "ACCOUNT_CONFLICT"
    assert attacker_me is None
    assert owner_after == before
    assert isinstance(owner_after, dict)
    assert owner_after["fullName"] == "Ada Lovelace"
    [ada_after] = await _users(db_engine)
    assert ada_after.model_dump() == ada_before.model_dump()
    async with AsyncSession(db_engine) as session:
        events = (await session.exec(select(AuditEvent))).all()
    [refusal] = [e for e in events if e.action == "user.login" and not e.success]
    assert refusal.details == {
        "code": "ACCOUNT_CONFLICT",
        "provider": "oidc",
        "issuer": oidc_provider.issuer,
        "subject": "mallory",
        "email_verified": False,
        "email_holder_id": str(ada_before.id),
    }


async def test_login_allowed_groups_send_others_back_with_not_allowed(
    database_url: str, db_engine: AsyncEngine, oidc_provider: OidcTestProvider
) -> None:
    settings = oidc_settings(
        database_url, oidc_provider.issuer, login_allowed_groups="litemaas-users"
    )
    async with browser_client({PUBLIC_URL: create_app(settings)}) as client:
        refused = await _sign_in(client, "cy")
        refused_me = await _me(client)
    async with browser_client({PUBLIC_URL: create_app(settings)}) as client:
        allowed = await _sign_in(client, "ada")

    assert login_error(refused) == "NOT_ALLOWED"
    assert refused_me is None
    assert allowed.status_code == 302
    assert [u.username for u in await _users(db_engine)] == ["ada"]


async def test_default_landings_are_the_frontend(
    database_url: str, oidc_provider: OidcTestProvider
) -> None:
    frontend = "http://127.0.0.1:4292/portal"
    app = create_app(oidc_settings(database_url, oidc_provider.issuer, frontend_url=frontend))
    async with browser_client({PUBLIC_URL: app}) as client:
        signed_in = await _sign_in(client, "ben")
        deep_link = await client.get(
            f"{PUBLIC_URL}/auth/login", params={"redirect": f"{frontend}/keys"}
        )
        logout = await client.post(f"{PUBLIC_URL}/auth/logout")

    assert signed_in.headers["location"] == f"{frontend}/"
    # FRONTEND_URL's origin is an allowed return target without being in FRONTEND_ORIGINS.
    assert deep_link.status_code == 302
    target = parse_qs(urlsplit(logout.headers["location"]).query)
    assert target["post_logout_redirect_uri"] == [f"{frontend}/"]


async def test_a_cookie_copied_before_logout_no_longer_signs_in(
    database_url: str, oidc_provider: OidcTestProvider
) -> None:
    app = create_app(oidc_settings(database_url, oidc_provider.issuer))
    async with browser_client({PUBLIC_URL: app}) as client:
        await _sign_in(client, "ada")
        copied = client.cookies[SESSION_COOKIE]
        signed_in = await _me(client)
        await client.post(f"{PUBLIC_URL}/auth/logout")
        client.cookies.clear()
        client.cookies.set(SESSION_COOKIE, copied)
        replayed = await _me(client)

    assert isinstance(signed_in, dict)
    assert replayed is None
