from __future__ import annotations

import base64
import random
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from app.settings import (
    DEV_SESSION_SECRET,
    AuthMode,
    ConfigurationError,
    Environment,
    Settings,
    load_settings,
)
from tests.conftest import make_settings

# A value from `secrets.token_urlsafe(48)`.
RANDOM_SESSION_SECRET = "BG0yO1MgYVwAQ5PrHdv0eM8zQrh3XK4pD-WmI_cJrMwzYT9Ev1nL2oTgX8u6bNqs"
PRODUCTION = {
    "env": Environment.PRODUCTION,
    "database_url": "postgresql://litemaas@127.0.0.1:5432/litemaas",
    "auth_mode": AuthMode.OIDC,
    "session_secret": RANDOM_SESSION_SECRET,
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
README = Path(__file__).resolve().parents[1] / "README.md"


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
        ({"database_url": None}, "DATABASE_URL"),
        ({"litellm_master_key": None}, "LITELLM_MASTER_KEY"),
        ({"litellm_url": None}, "LITELLM_URL"),
        ({"auth_mode": AuthMode.DEV}, "AUTH_MODE"),
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
    settings = {
        key: value for key, value in {**PRODUCTION, **override}.items() if value is not None
    }
    with pytest.raises(ValidationError, match=complaint):
        make_settings(**settings)


def test_production_accepts_openshift_with_its_own_settings() -> None:
    settings = make_settings(**{**PRODUCTION, **OPENSHIFT})

    assert settings.auth_mode is AuthMode.OPENSHIFT
    assert settings.base_url == "https://litemaas.example.com"


def test_sso_settings_are_required_in_development_too() -> None:
    with pytest.raises(
        ValidationError, match="OPENSHIFT_API_URL: must be set when AUTH_MODE=openshift"
    ):
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


GENERATE_HINT = "secrets.token_urlsafe(48)"


@pytest.mark.parametrize(
    "session_secret",
    [
        "a" * 32,
        "abcd" * 8,
        "aZ3$kq9!" * 4,
        "0123456789abcdefghijklmnopqrstuvwxyz",
        "qwertyuiopasdfghjklzxcvbnm1234567890",
        DEV_SESSION_SECRET,
        "this is my very long production session secret",
        "ThisIsMyVeryLongProductionSessionSecretForLitemaas2024!",
        "correct-horse-battery-staple-moon-river-sunset",
    ],
)
def test_production_refuses_a_session_secret_that_is_long_but_guessable(
    session_secret: str,
) -> None:
    with pytest.raises(ValidationError) as refused:
        make_settings(**{**PRODUCTION, "session_secret": session_secret})

    message = str(refused.value)
    assert "SESSION_SECRET" in message
    assert GENERATE_HINT in message


# Secrets as operators generate them: Python's `secrets`, `openssl rand -base64|-hex 32`.
RANDOM_SECRET_FORMATS: dict[str, Callable[[bytes], str]] = {
    "token_urlsafe": lambda raw: base64.urlsafe_b64encode(raw).rstrip(b"=").decode(),
    "base64": lambda raw: base64.b64encode(raw).decode(),
    "hex": bytes.hex,
}


@given(
    seed=st.integers(min_value=0, max_value=2**64),
    size=st.integers(min_value=32, max_value=96),
    encoding=st.sampled_from(sorted(RANDOM_SECRET_FORMATS)),
)
def test_production_accepts_generated_session_secrets(seed: int, size: int, encoding: str) -> None:
    # Bytes from a seeded generator: hypothesis's own bytes shrink towards zeros, not randomness.
    secret = RANDOM_SECRET_FORMATS[encoding](random.Random(seed).randbytes(size))

    settings = make_settings(**{**PRODUCTION, "session_secret": secret})

    assert settings.session_secret.get_secret_value() == secret


@given(
    chunk=st.text(
        alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=10
    ),
    times=st.integers(min_value=2, max_value=40),
)
def test_production_refuses_repetitive_session_secrets(chunk: str, times: int) -> None:
    secret = chunk * max(times, -(-32 // len(chunk)))

    with pytest.raises(ValidationError, match="SESSION_SECRET: does not look random"):
        make_settings(**{**PRODUCTION, "session_secret": secret})


WORDS = [
    *("production", "session", "secret", "litemaas", "portal", "company", "password"),
    *("welcome", "server", "summer", "change", "please", "models", "service", "cluster"),
]


@given(
    words=st.lists(st.sampled_from(WORDS), min_size=4, max_size=12),
    separator=st.sampled_from([" ", "-", "_", "."]),
    capitalised=st.booleans(),
)
def test_production_refuses_phrases_of_words(
    words: list[str], separator: str, capitalised: bool
) -> None:
    # Capitalised words also run together, camelCase.
    separator = "" if capitalised and separator == "." else separator
    secret = separator.join(word.capitalize() if capitalised else word for word in words)
    if len(secret) < 32:
        secret = separator.join([secret, *words])

    with pytest.raises(ValidationError, match="SESSION_SECRET: does not look random"):
        make_settings(**{**PRODUCTION, "session_secret": secret})


SECRETS = {
    "SESSION_SECRET": "hunter2hunter2hunter2hunter2hunter2",
    "OIDC_CLIENT_SECRET": "Zq8vLw3nRt6yPb1mKx4sHd",
    "LITELLM_MASTER_KEY": "sk-Vn5cTj9wQe2rYu7iOp0aSd",
    "DATABASE_URL": "postgresql://litemaas:Gf6hJk1lMn3bVc8xZa@db.example.com/litemaas",
}


def _leaks(text: str, secret: str) -> bool:
    """Whether any six characters of the secret's own part appear in `text`."""
    own = secret.split(":", 2)[-1].split("@")[0] if secret.startswith("postgresql") else secret
    return any(own[i : i + 6] in text for i in range(len(own) - 5))


@pytest.mark.parametrize(
    "broken",
    [
        # Everything set, but the model validator refuses (pydantic would echo every input).
        {"PUBLIC_URL": "http://litemaas.example.com"},
        # A field that does not parse, beside the secrets.
        {"PORT": "eighty"},
        {"ROLE_GROUPS": "{not json"},
        {"AUTH_MODE": "sso"},
    ],
)
def test_configuration_errors_name_the_setting_and_never_echo_a_secret(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, broken: dict[str, str]
) -> None:
    monkeypatch.chdir(tmp_path)  # no .env
    complete = {
        "AUTH_MODE": "oidc",
        "OIDC_ISSUER": "https://sso.example.com",
        "OIDC_CLIENT_ID": "litemaas",
        "LITELLM_URL": "http://127.0.0.1:9",
        "PUBLIC_URL": "https://litemaas.example.com",
        **SECRETS,
    }
    for name, value in {**complete, **broken}.items():
        monkeypatch.setenv(name, value)

    with pytest.raises(ConfigurationError) as refused:
        load_settings(Environment.PRODUCTION)

    message = str(refused.value)
    assert next(iter(broken)) in message
    for name, secret in SECRETS.items():
        assert not _leaks(message, secret), f"{name} leaked into: {message}"


def test_key_policy_settings_are_empty_by_default_and_an_empty_value_means_none(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KEY_DEFAULT_EXPIRY_DAYS", "")
    monkeypatch.setenv("KEY_MAX_EXPIRY_DAYS", "90")
    monkeypatch.setenv("KEY_MAX_BUDGET", " ")

    settings = make_settings()

    assert (settings.key_default_expiry_days, settings.key_max_expiry_days) == (None, 90)
    assert settings.key_max_budget is None
    monkeypatch.delenv("KEY_MAX_EXPIRY_DAYS")
    assert make_settings().key_max_expiry_days is None


def test_a_default_key_expiry_beyond_the_maximum_refuses_to_start() -> None:
    with pytest.raises(ValidationError, match="KEY_DEFAULT_EXPIRY_DAYS"):
        make_settings(key_default_expiry_days=100, key_max_expiry_days=90)


def test_every_setting_has_a_row_in_the_readme_configuration_table() -> None:
    section = README.read_text().split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    # A row's first cell names one or more variables: | `A`, `B` | default | meaning |
    documented = {
        name
        for row in section.splitlines()
        if row.startswith("| `")
        for name in re.findall(r"`([A-Z][A-Z0-9_]*)`", row.split("|")[1])
    }

    missing = sorted({field.upper() for field in Settings.model_fields} - documented)
    assert not missing, f"README.md's Configuration table lacks {missing}"
