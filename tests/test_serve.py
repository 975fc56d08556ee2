"""`litemaas-bff serve` is production: it refuses to guess, and runs without dev conveniences."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.main import create_app_from_env
from app.settings import ConfigurationError
from litellm_emulator.dev_app import EMULATOR_MODELS
from tests.scrape import sample
from tests.served import WITHOUT_EMULATOR, json_lines, production_environment, run_cli, served

STARTED_IN_PRODUCTION = "litemaas-bff started (env=production, auth=oidc)"
MISSING_IN_AN_EMPTY_ENVIRONMENT = [
    "DATABASE_URL",
    "SESSION_SECRET",
    "LITELLM_URL",
    "LITELLM_MASTER_KEY",
    "AUTH_MODE",
    "PUBLIC_URL",
]


def test_serve_with_an_empty_environment_refuses_and_lists_every_missing_setting(
    tmp_path: Path,
) -> None:
    result = run_cli(["serve"], env={}, cwd=tmp_path)

    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    problems = result.stderr.splitlines()[1:]
    assert [line.split(":")[0].strip() for line in problems] == MISSING_IN_AN_EMPTY_ENVIRONMENT
    assert "secrets.token_urlsafe(48)" in result.stderr
    assert not (tmp_path / "litemaas.db").exists()  # nothing was created on the side


def test_serve_refuses_env_development_and_points_at_dev(tmp_path: Path) -> None:
    result = run_cli(["serve"], env={"ENV": "development"}, cwd=tmp_path)

    assert result.returncode == 2
    assert "litemaas-bff dev" in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_reads_env_development_from_a_dot_env_file_too(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("ENV=development\n")

    result = run_cli(["serve"], env={}, cwd=tmp_path)

    assert result.returncode == 2
    assert "litemaas-bff dev" in result.stderr


def test_dev_refuses_env_production(tmp_path: Path) -> None:
    result = run_cli(["dev"], env={"ENV": "production"}, cwd=tmp_path)

    assert result.returncode == 2
    assert "litemaas-bff serve" in result.stderr


SECRETS = {
    "SESSION_SECRET": "Hq3Lr8Mv2Ty6",  # too short: refused, and never shown
    "OIDC_CLIENT_SECRET": "Qx7mVb2nLk9pRt4wZs1yHc",
    "LITELLM_MASTER_KEY": "sk-Jd8fGh3kLm6nPq0rSt5v",
    "DATABASE_URL": "postgresql://litemaas:Wz4xCv7bNm2aSd9fGh@db.example.com/litemaas",
}


@pytest.mark.parametrize("broken", [{"PUBLIC_URL": "http://plain"}, {"PORT": "eighty"}])
def test_serve_never_prints_a_secret_in_a_configuration_error(
    tmp_path: Path, broken: dict[str, str]
) -> None:
    env = {**production_environment("unused"), **SECRETS, **broken}

    result = run_cli(["serve"], env=env, cwd=tmp_path)

    assert result.returncode == 2
    output = result.stdout + result.stderr
    assert next(iter(broken)) in output
    for secret in SECRETS.values():
        own = secret.rsplit(":", 1)[-1].split("@")[0]  # the password of the URL
        leaked = [own[i : i + 6] for i in range(len(own) - 5) if own[i : i + 6] in output]
        assert not leaked, f"{leaked} of a secret in: {output}"


def test_serve_with_a_complete_production_configuration_starts_as_production(
    database_url: str, db_engine: AsyncEngine, tmp_path: Path
) -> None:
    # Two workers: each builds the app from the environment; neither may start the emulator.
    # Their metrics directory holds a value of a previous run: emptied at start.
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    _record_a_stale_fallback(metrics_dir)
    env = {
        **production_environment(database_url),
        "WEB_CONCURRENCY": "2",
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
    }
    with served("serve", env, tmp_path) as service:
        ide = httpx.get(f"{service.url}/graphql", headers={"Accept": "text/html"})
        assets = httpx.get(f"{service.url}/graphiql/graphiql.min.js")
        dev_login = httpx.post(
            f"{service.url}/auth/dev-login", json={"username": "mallory", "email": "m@x.org"}
        )
        ready = httpx.get(f"{service.url}/readyz")
        # The first worker to start answers; the second may still be starting.
        log = service.wait_for_log(STARTED_IN_PRODUCTION, count=2)
        metrics = httpx.get(f"{service.url}/metrics").text
        written = sorted(path.name for path in metrics_dir.glob("*.db"))

    assert "graphiql" not in ide.text.lower()
    assert assets.status_code == 404
    assert dev_login.status_code == 404
    assert ready.status_code == 200
    assert log.count(STARTED_IN_PRODUCTION) == 2
    assert "emulator" not in log.lower()
    assert sample(metrics, "litemaas_graphql_executor_fallbacks_total") == 0
    assert sample(metrics, "litemaas_litellm_up") == 0  # LiteLLM is unreachable here
    assert len({name.rsplit("_", 1)[-1] for name in written}) == 2, written  # one per worker
    # Production logs JSON lines, each with its time, level and logger.
    lines = json_lines(log)
    assert {line["message"] for line in lines} >= {STARTED_IN_PRODUCTION}
    assert all({"time", "level", "logger", "message"} <= set(line) for line in lines)


def _record_a_stale_fallback(directory: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-c",
            "from app.metrics import Metrics; Metrics().graphql_executor_fallbacks.inc(7)",
        ],
        env={**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory)},
        check=True,
        timeout=60,
    )
    assert list(directory.glob("counter_*.db"))


def test_the_request_log_never_shows_a_query_string(
    database_url: str, db_engine: AsyncEngine, tmp_path: Path
) -> None:
    code, state = "Sp1xAuthCodeQ7w3", "Zt9yStateV4k2Lm"
    with served("serve", production_environment(database_url), tmp_path) as service:
        callback = httpx.get(f"{service.url}/auth/callback?code={code}&state={state}")
        authz = httpx.get(f"{service.url}/authz?model=m1&token=Pw5rSecretR8u")
        # Each request's line is written once its answer is sent.
        log = service.wait_for_log("GET /authz 401")

    # No login was started: refused, and the browser sent back to the frontend with the code.
    assert callback.status_code == 303
    assert callback.headers["location"].endswith("?loginError=INVALID_STATE")
    assert authz.status_code == 401
    requests = [line["message"] for line in json_lines(log) if line["logger"] == "app.request"]
    assert requests == ["GET /auth/callback 303", "GET /authz 401"]
    for secret in (code, state, "Pw5rSecretR8u"):
        assert secret not in log


def test_the_production_factory_never_starts_the_emulator(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # What a worker of `serve` would see if ENV=development reached it some other way.
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ENV", "development")
    monkeypatch.delenv("LITELLM_URL", raising=False)

    with pytest.raises(ConfigurationError, match="LITELLM_URL: must be set"):
        create_app_from_env()


def test_serve_runs_where_the_emulator_package_is_not_installed(
    database_url: str, db_engine: AsyncEngine, tmp_path: Path
) -> None:
    # A production installation may lack litellm_emulator: nothing `serve` loads may need it.
    env = production_environment(database_url)
    with served("serve", env, tmp_path, launcher=WITHOUT_EMULATOR) as service:
        ready = httpx.get(f"{service.url}/readyz")
        log = service.log_text()

    assert ready.status_code == 200
    assert "litemaas-bff started (env=production, auth=oidc)" in log
    assert "Traceback" not in log


def test_dev_where_the_emulator_package_is_not_installed_refuses_and_says_why(
    tmp_path: Path,
) -> None:
    result = run_cli(["dev"], env={}, cwd=tmp_path, launcher=WITHOUT_EMULATOR)

    assert result.returncode == 2
    assert "`litellm_emulator`, the in-process LiteLLM emulator" in result.stderr
    assert "not part of the litemaas-bff package" in result.stderr
    assert "make run" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "litemaas.db").exists()  # refused before migrating anything


def test_dev_without_litellm_url_serves_the_catalogue_of_the_in_process_emulator(
    database_url: str, db_engine: AsyncEngine, tmp_path: Path
) -> None:
    env = {"DATABASE_URL": database_url, "AUTH_MODE": "dev"}
    with served("dev", env, tmp_path) as service:
        answer = httpx.post(f"{service.url}/graphql", json={"query": "{ models { id } }"})
        log = service.log_text()

    assert "using the in-process LiteLLM emulator" in log
    assert sorted(m["id"] for m in answer.json()["data"]["models"]) == list(EMULATOR_MODELS)
