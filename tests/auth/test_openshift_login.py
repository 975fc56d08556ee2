"""OpenShift OAuth login against a stand-in cluster served over TLS with its own CA."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.auth.session import SESSION_COOKIE
from app.db.models import User
from app.main import create_app
from app.settings import AuthMode, Settings
from tests import documents
from tests.auth.conftest import PUBLIC_URL, browser_client, login_error
from tests.auth.openshift_stand_in import (
    CLIENT_ID,
    CLIENT_SECRET,
    OpenShiftStandIn,
    openshift_user,
)
from tests.auth.servers import ServerTls, loopback_socket, self_signed_tls, serving, socket_url
from tests.conftest import make_settings

CALLBACK = f"{PUBLIC_URL}/auth/callback"
# What the identity provider decides about the signed-in user.
SHOWN = ("username", "email", "fullName", "roles")


@pytest.fixture(scope="module")
def cluster_tls(tmp_path_factory: pytest.TempPathFactory) -> ServerTls:
    return self_signed_tls(tmp_path_factory.mktemp("cluster-tls"))


@pytest.fixture
async def cluster(cluster_tls: ServerTls) -> AsyncIterator[OpenShiftStandIn]:
    sock = loopback_socket()
    stand_in = OpenShiftStandIn(
        base_url=socket_url(sock, "https"),
        redirect_uri=CALLBACK,
        user=openshift_user("alice", full_name="Alice Doe", groups=["litemaas-admins", "dev"]),
    )
    async with serving(stand_in.app(), sock, tls=cluster_tls):
        yield stand_in


def openshift_settings(database_url: str, cluster: OpenShiftStandIn, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "auth_mode": AuthMode.OPENSHIFT,
        "openshift_api_url": cluster.base_url,
        "openshift_client_id": CLIENT_ID,
        "openshift_client_secret": CLIENT_SECRET,
        "public_url": PUBLIC_URL,
    }
    return make_settings(**(values | overrides))


def _browser_trust(tls: ServerTls) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=tls.ca_file)


async def _sign_in(settings: Settings, tls: ServerTls, redirect: str = "/") -> tuple[int, str, Any]:
    """Log in as the browser would; give the callback's status, its Location and `me`."""
    app = create_app(settings)
    async with browser_client({PUBLIC_URL: app}, verify=_browser_trust(tls)) as client:
        login = await client.get(f"{PUBLIC_URL}/auth/login", params={"redirect": redirect})
        assert login.status_code == 302, login.text
        authorize = await client.get(login.headers["location"])
        assert authorize.status_code == 302, authorize.text
        callback = await client.get(authorize.headers["location"])
        answer = await client.post(f"{PUBLIC_URL}/graphql", json={"query": documents.ME})
        me = answer.json()["data"]["me"]
    return callback.status_code, callback.headers.get("location", callback.text), me


async def test_openshift_login_trusting_the_cluster_ca_signs_in_with_groups(
    database_url: str, db_engine: AsyncEngine, cluster: OpenShiftStandIn, cluster_tls: ServerTls
) -> None:
    settings = openshift_settings(database_url, cluster, auth_ca_bundle=str(cluster_tls.ca_file))

    status, location, me = await _sign_in(settings, cluster_tls, redirect="/keys")

    assert (status, location) == (302, "/keys")
    assert {key: me[key] for key in SHOWN} == {
        "username": "alice",
        "email": "alice@openshift.local",
        "fullName": "Alice Doe",
        "roles": ["admin", "user"],
    }
    [request] = cluster.authorize_requests
    assert request["scope"] == "user:info"
    assert request["code_challenge_method"] == "S256"
    async with AsyncSession(db_engine) as session:
        [user] = (await session.exec(select(User))).all()
    # The account is the cluster's user UID, scoped by the cluster's API server.
    assert (user.oauth_provider, user.oauth_issuer, user.oauth_subject) == (
        "openshift",
        cluster.base_url,
        cluster.user["metadata"]["uid"],
    )


async def test_a_cluster_user_named_by_e_mail_keeps_that_address(
    database_url: str, cluster: OpenShiftStandIn, cluster_tls: ServerTls
) -> None:
    cluster.user = openshift_user("bo@corp.example", full_name=None, groups=[])
    settings = openshift_settings(database_url, cluster, auth_ca_bundle=str(cluster_tls.ca_file))

    status, _, me = await _sign_in(settings, cluster_tls)

    assert status == 302
    assert {key: me[key] for key in SHOWN} == {
        "username": "bo@corp.example",
        "email": "bo@corp.example",
        "fullName": None,
        "roles": ["user"],
    }


async def test_an_untrusted_cluster_certificate_stops_the_login(
    database_url: str, db_engine: AsyncEngine, cluster: OpenShiftStandIn, cluster_tls: ServerTls
) -> None:
    app = create_app(openshift_settings(database_url, cluster))
    async with browser_client({PUBLIC_URL: app}) as client:
        login = await client.get(f"{PUBLIC_URL}/auth/login")

    assert login_error(login) == "IDENTITY_PROVIDER_UNAVAILABLE"
    assert cluster.authorize_requests == []


async def test_tls_checks_can_be_switched_off_for_a_self_signed_cluster(
    database_url: str, cluster: OpenShiftStandIn, cluster_tls: ServerTls
) -> None:
    settings = openshift_settings(database_url, cluster, auth_verify_tls=False)

    status, _, me = await _sign_in(settings, cluster_tls)

    assert status == 302
    assert me["username"] == "alice"


async def test_logout_goes_to_the_post_logout_url(
    database_url: str, cluster: OpenShiftStandIn, cluster_tls: ServerTls
) -> None:
    settings = openshift_settings(
        database_url,
        cluster,
        auth_ca_bundle=str(cluster_tls.ca_file),
        post_logout_redirect_url="https://portal.example.com/bye",
    )
    app = create_app(settings)
    async with browser_client({PUBLIC_URL: app}) as client:
        response = await client.post(f"{PUBLIC_URL}/auth/logout")

    assert response.status_code == 303
    assert response.headers["location"] == "https://portal.example.com/bye"


async def test_a_code_is_good_once(
    database_url: str, cluster: OpenShiftStandIn, cluster_tls: ServerTls
) -> None:
    settings = openshift_settings(database_url, cluster, auth_ca_bundle=str(cluster_tls.ca_file))
    app = create_app(settings)
    async with browser_client({PUBLIC_URL: app}, verify=_browser_trust(cluster_tls)) as client:
        login = await client.get(f"{PUBLIC_URL}/auth/login")
        authorize = await client.get(login.headers["location"])
        pending_cookie = client.cookies[SESSION_COOKIE]
        first = await client.get(authorize.headers["location"])
        client.cookies.clear()
        client.cookies.set(SESSION_COOKIE, pending_cookie)
        replay = await client.get(authorize.headers["location"])

    assert first.status_code == 302
    assert login_error(replay) == "PROVIDER_ERROR"
