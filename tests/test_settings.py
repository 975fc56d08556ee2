from __future__ import annotations

import pytest
from pydantic import ValidationError

from app.settings import DEV_SESSION_SECRET, AuthMode, Environment
from tests.conftest import make_settings

PRODUCTION = {
    "env": Environment.PRODUCTION,
    "auth_mode": AuthMode.OIDC,
    "session_secret": "s" * 48,
    "litellm_url": "http://127.0.0.1:9",
    "litellm_master_key": "sk-a-real-master-key",
    "public_url": "https://litemaas.example.com",
    "oidc_issuer": "https://sso.example.com",
    "oidc_client_id": "litemaas",
    "oidc_client_secret": "an-oidc-client-secret",
}
OPENSHIFT = {
    "auth_mode": AuthMode.OPENSHIFT,
    "openshift_api_url": "https://api.cluster.example.com:6443",
    "openshift_client_id": "litemaas",
    "openshift_client_secret": "an-oauth-client-secret",
}


def test_zero_configuration_gives_a_development_service_on_loopback() -> None:
    settings = make_settings()

    assert settings.env is Environment.DEVELOPMENT
    assert (settings.host, settings.port) == ("127.0.0.1", 8000)
    assert settings.async_database_url.startswith("sqlite+aiosqlite:///")
    assert settings.dev_login_enabled
    assert settings.ide_enabled


def test_production_with_every_secret_set_is_accepted() -> None:
    settings = make_settings(**PRODUCTION)

    assert not settings.dev_login_enabled
    assert not settings.ide_enabled


@pytest.mark.parametrize(
    ("override", "complaint"),
    [
        ({"session_secret": DEV_SESSION_SECRET}, "SESSION_SECRET"),
        ({"session_secret": "short"}, "SESSION_SECRET"),
        ({"litellm_master_key": None}, "LITELLM_MASTER_KEY"),
        ({"litellm_url": None}, "LITELLM_URL"),
        ({"auth_mode": AuthMode.DEV}, "AUTH_MODE=dev"),
        ({"public_url": None}, "PUBLIC_URL"),
        ({"public_url": "http://litemaas.example.com"}, "PUBLIC_URL"),
        ({"oidc_issuer": None}, "OIDC_ISSUER"),
        ({"oidc_client_id": None}, "OIDC_CLIENT_ID"),
        ({"oidc_client_secret": None}, "OIDC_CLIENT_SECRET"),
        ({**OPENSHIFT, "openshift_api_url": None}, "OPENSHIFT_API_URL"),
        ({**OPENSHIFT, "openshift_client_id": None}, "OPENSHIFT_CLIENT_ID"),
        ({**OPENSHIFT, "openshift_client_secret": ""}, "OPENSHIFT_CLIENT_SECRET"),
    ],
)
def test_production_refuses_default_or_missing_secrets(
    override: dict[str, object], complaint: str
) -> None:
    with pytest.raises(ValidationError, match=complaint):
        make_settings(**{**PRODUCTION, **override})


def test_production_accepts_openshift_with_its_own_settings() -> None:
    settings = make_settings(**{**PRODUCTION, **OPENSHIFT})

    assert settings.auth_mode is AuthMode.OPENSHIFT
    assert settings.base_url == "https://litemaas.example.com"


def test_sso_settings_are_required_in_development_too() -> None:
    with pytest.raises(ValidationError, match="AUTH_MODE=openshift needs OPENSHIFT_API_URL"):
        make_settings(auth_mode=AuthMode.OPENSHIFT)


def test_frontend_origins_from_the_environment_are_comma_separated(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FRONTEND_ORIGINS", "https://Portal.example.com, http://127.0.0.1:3000")

    settings = make_settings()

    assert settings.frontend_origins == ["https://portal.example.com", "http://127.0.0.1:3000"]


@pytest.mark.parametrize(
    "origin", ["portal.example.com", "https://portal.example.com/app", "ftp://portal.example.com"]
)
def test_frontend_origins_must_be_bare_origins(origin: str) -> None:
    with pytest.raises(ValidationError, match="FRONTEND_ORIGINS"):
        make_settings(frontend_origins=[origin])


def test_login_allowed_groups_from_the_environment_are_comma_separated(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LOGIN_ALLOWED_GROUPS", "litemaas-users, litemaas-admins,")

    assert make_settings().login_allowed_groups == ["litemaas-users", "litemaas-admins"]
    monkeypatch.delenv("LOGIN_ALLOWED_GROUPS")
    assert make_settings().login_allowed_groups == []  # everyone may sign in


def test_the_frontend_defaults_to_the_public_url() -> None:
    settings = make_settings(public_url="https://litemaas.example.com/")

    assert settings.frontend_home == "https://litemaas.example.com/"
    assert settings.post_logout_url == "https://litemaas.example.com/"
    assert settings.allowed_redirect_origins == ["https://litemaas.example.com"]


def test_frontend_url_is_home_and_its_origin_an_allowed_redirect() -> None:
    settings = make_settings(
        public_url="https://api.example.com",
        frontend_url="https://Portal.example.com/app",
        frontend_origins="https://other.example.com",
    )

    assert settings.frontend_home == "https://Portal.example.com/app/"
    assert settings.post_logout_url == "https://Portal.example.com/app/"
    assert settings.allowed_redirect_origins == [
        "https://other.example.com",
        "https://portal.example.com",
    ]


@pytest.mark.parametrize(
    "url",
    [
        "portal.example.com/app",
        "/app",
        "javascript:alert(1)",
        "https://portal.example.com/?tab=1",
        "https://portal.example.com/#home",
    ],
)
def test_frontend_url_must_be_an_absolute_http_url(url: str) -> None:
    with pytest.raises(ValidationError, match="FRONTEND_URL"):
        make_settings(frontend_url=url)


def test_without_public_url_the_service_is_where_it_listens() -> None:
    settings = make_settings(port=4242)

    assert settings.base_url == "http://127.0.0.1:4242"
    assert settings.post_logout_url == "http://127.0.0.1:4242/"


def test_production_refuses_the_default_session_secret_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ENV", "production")
    monkeypatch.setenv("AUTH_MODE", "oidc")
    monkeypatch.setenv("LITELLM_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("LITELLM_MASTER_KEY", "sk-a-real-master-key")
    monkeypatch.setenv("PUBLIC_URL", "https://litemaas.example.com")
    monkeypatch.setenv("OIDC_ISSUER", "https://sso.example.com")
    monkeypatch.setenv("OIDC_CLIENT_ID", "litemaas")
    monkeypatch.setenv("OIDC_CLIENT_SECRET", "an-oidc-client-secret")

    with pytest.raises(ValidationError, match="SESSION_SECRET"):
        make_settings()


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://u@h/db", "postgresql+asyncpg://u@h/db"),
        ("postgres://u@h/db", "postgresql+asyncpg://u@h/db"),
        ("postgresql+asyncpg://u@h/db", "postgresql+asyncpg://u@h/db"),
        ("sqlite:///./x.db", "sqlite+aiosqlite:///./x.db"),
    ],
)
def test_database_url_gets_an_async_driver(given: str, expected: str) -> None:
    assert make_settings(database_url=given).async_database_url == expected
