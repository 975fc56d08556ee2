"""`litemaas-bff` as an operator runs it: a process of its own on a free loopback port."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

LOOPBACK = "127.0.0.1"
CLI = str(Path(sys.executable).with_name("litemaas-bff"))
# A value from `secrets.token_urlsafe(48)`.
SESSION_SECRET = "Ke2Wq7V0dZr9tYbA_xL4mNcP8sHf3Gj6oUiE1TlRkS5vBnQwXyM-aZc0D2Fg7hJp"


# `litemaas-bff` in an installation without the LiteLLM emulator package: importing it fails
# as for a package that is not installed (a None entry in sys.modules).
WITHOUT_EMULATOR = (
    sys.executable,
    "-c",
    "import sys; sys.modules['litellm_emulator'] = None; "
    "from app.cli import main; sys.exit(main(sys.argv[1:]))",
)


def production_environment(database_url: str) -> dict[str, str]:
    """A complete production configuration; LiteLLM and the identity provider are unreachable
    (nothing here needs them)."""
    return {
        "DATABASE_URL": database_url,
        "SESSION_SECRET": SESSION_SECRET,
        "LITELLM_URL": f"http://{LOOPBACK}:1",
        "LITELLM_MASTER_KEY": "sk-production-master-key",
        "AUTH_MODE": "oidc",
        "OIDC_ISSUER": f"http://{LOOPBACK}:9/",
        "OIDC_CLIENT_ID": "litemaas",
        "OIDC_CLIENT_SECRET": "an-oidc-client-secret",
        "PUBLIC_URL": "https://litemaas.example.com",
        "RECONCILE_INTERVAL_SECONDS": "3600",
        "CATALOG_SYNC_INTERVAL_SECONDS": "3600",
        "LITELLM_PROBE_INTERVAL_SECONDS": "3600",
    }


def run_cli(
    args: list[str], env: dict[str, str], cwd: Path, *, launcher: Sequence[str] = (CLI,)
) -> subprocess.CompletedProcess[str]:
    """The command with exactly `env` (and PATH), in `cwd` (no .env there)."""
    return subprocess.run(  # noqa: S603  (our own console script)
        [*launcher, *args],
        env={"PATH": os.environ["PATH"], **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


def json_lines(log: str) -> list[dict[str, Any]]:
    """The JSON lines of a production log (a warning Python prints at import is not one)."""
    return [json.loads(line) for line in log.splitlines() if line.startswith("{")]


@dataclass(frozen=True)
class Served:
    url: str
    port: int
    pid: int
    log: Path  # stdout and stderr: uvicorn's access log and the service's log

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for_log(self, line: str, *, count: int = 1, seconds: float = 30) -> str:
        """The log once `line` is in it `count` times (workers start one after another)."""
        deadline = time.monotonic() + seconds
        while (text := self.log_text()).count(line) < count and time.monotonic() < deadline:
            time.sleep(0.1)
        return text


@contextmanager
def served(
    command: str, env: dict[str, str], cwd: Path, *, launcher: Sequence[str] = (CLI,)
) -> Iterator[Served]:
    """`litemaas-bff COMMAND` on a free port until it answers /healthz; stopped afterwards.

    `launcher` runs the command instead of the console script (it gets COMMAND as argument)."""
    port = free_port()
    log = cwd / f"litemaas-bff-{command}-{port}.log"
    environ = {"PATH": os.environ["PATH"], **env, "HOST": LOOPBACK, "PORT": str(port)}
    with (
        log.open("wb") as out,
        subprocess.Popen(  # noqa: S603  (our own console script)
            [*launcher, command], env=environ, cwd=cwd, stdout=out, stderr=subprocess.STDOUT
        ) as process,
    ):
        try:
            url = f"http://{LOOPBACK}:{port}"
            _wait_until_up(url, process, log)
            yield Served(url=url, port=port, pid=process.pid, log=log)
        finally:
            process.terminate()
            process.wait(timeout=15)


def _wait_until_up(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the service exited at start-up:\n{log.read_text()}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.2)
    raise AssertionError(f"the service did not answer /healthz within 30 s:\n{log.read_text()}")
