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
    ],
)
def test_production_refuses_default_or_missing_secrets(
    override: dict[str, object], complaint: str
) -> None:
    with pytest.raises(ValidationError, match=complaint):
        make_settings(**{**PRODUCTION, **override})


def test_production_refuses_the_default_session_secret_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ENV", "production")
    monkeypatch.setenv("AUTH_MODE", "oidc")
    monkeypatch.setenv("LITELLM_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("LITELLM_MASTER_KEY", "sk-a-real-master-key")

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
