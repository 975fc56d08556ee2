"""Every request is bounded in size before any route sees it (413 for a body, 400 for a head).

The attacks run with raw sockets against `litemaas-bff serve` itself (same HTTP implementation
and limits), while another client checks that /healthz keeps answering."""

from __future__ import annotations

import select
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import orjson
import pytest
from sqlalchemy import func
from sqlalchemy import select as sql_select
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from app.db.models import User
from app.main import create_app
from app.settings import Settings
from litellm_emulator import LiteLLMEmulator
from tests.conftest import serve
from tests.served import LOOPBACK, Served, production_environment, served

ATTACK_BYTES = 100 * 1024 * 1024
CHUNK = b"a" * (64 * 1024)
MAX_RSS_GROWTH_BYTES = 5 * 1024 * 1024
HEALTHZ_WITHIN_SECONDS = 0.5


@pytest.fixture(scope="module")
def service(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    # One worker: the process started is the one that serves, whose memory is measured.
    env = {**production_environment(database_url), "WEB_CONCURRENCY": "1"}
    with served("serve", env, tmp_path_factory.mktemp("limits")) as running:
        yield running


def _rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


class HealthzWatch:
    """GET /healthz over and over from another thread; the slowest answer is kept."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.slowest = 0.0
        self.answers = 0
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run)

    def __enter__(self) -> HealthzWatch:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        with httpx.Client(timeout=5) as client:
            while not self._stop.is_set():
                started = time.monotonic()
                try:
                    status = client.get(f"{self.url}/healthz").status_code
                except httpx.HTTPError as exc:
                    self.failures.append(repr(exc))
                    continue
                self.slowest = max(self.slowest, time.monotonic() - started)
                self.answers += 1
                if status != 200:
                    self.failures.append(f"status {status}")
                time.sleep(0.02)


def _attack(port: int, head: bytes, *, chunked: bool) -> tuple[bytes, int, bool]:
    """Send `head`, then up to ATTACK_BYTES in chunks, stopping once the server answers or
    closes. Returns what it answered, how many bytes were sent, and whether it closed."""
    sent = 0
    with socket.create_connection((LOOPBACK, port)) as sock:
        sock.settimeout(10)
        try:
            sock.sendall(head)
            while sent < ATTACK_BYTES:
                readable, _, _ = select.select([sock], [], [], 0.001)
                if readable:
                    break
                sock.sendall(b"%x\r\n%s\r\n" % (len(CHUNK), CHUNK) if chunked else CHUNK)
                sent += len(CHUNK)
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused while sending: what it answered is still to be read
        answer, closed = _read_until_closed(sock)
    return answer, sent, closed


def _read_until_closed(sock: socket.socket) -> tuple[bytes, bool]:
    answer = b""
    try:
        while data := sock.recv(65536):
            answer += data
    except ConnectionResetError:
        pass  # closed with our unread bytes in its buffer: a reset, after its answer
    except TimeoutError:
        return answer, False
    return answer, True


def _run_attack(service: Served, head: bytes, *, chunked: bool) -> tuple[bytes, int, bool]:
    httpx.get(f"{service.url}/healthz")  # everything loaded before measuring
    rss_before = _rss_bytes(service.pid)
    with HealthzWatch(service.url) as watch:
        started = time.monotonic()
        answer, sent, closed = _attack(service.port, head, chunked=chunked)
        # Keep watching a little: a server still digesting would show here.
        time.sleep(max(0.0, 1.0 - (time.monotonic() - started)))
    growth = _rss_bytes(service.pid) - rss_before

    assert sent < ATTACK_BYTES, "the server read everything it was sent"
    assert closed, "the server kept the connection open"
    assert growth < MAX_RSS_GROWTH_BYTES, f"the server grew by {growth / 2**20:.1f} MB"
    assert watch.answers > 0
    assert not watch.failures, watch.failures
    assert watch.slowest < HEALTHZ_WITHIN_SECONDS, f"/healthz took {watch.slowest:.2f} s"
    return answer, sent, closed


def test_a_100_mb_header_is_refused_early(service: Served) -> None:
    head = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Padding: "

    answer, sent, _ = _run_attack(service, head, chunked=False)

    assert answer.startswith((b"HTTP/1.1 400 ", b"HTTP/1.1 431 ")), answer[:100]
    assert sent <= 1024 * 1024


@pytest.mark.parametrize("path", ["/graphql", "/auth/logout", "/authz?model=m1"])
def test_a_100_mb_body_with_its_length_declared_is_refused_before_it_is_read(
    service: Served, path: str
) -> None:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {ATTACK_BYTES}\r\n\r\n"
    ).encode()

    answer, sent, _ = _run_attack(service, head, chunked=False)

    assert answer.startswith(b"HTTP/1.1 413 "), answer[:100]
    body = orjson.loads(answer.split(b"\r\n\r\n", 1)[1])
    assert body["error"]["code"] == "REQUEST_TOO_LARGE"
    assert sent <= 2 * 1024 * 1024


def test_a_100_mb_chunked_body_is_refused_once_it_passes_the_limit(service: Served) -> None:
    head = (
        b"POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )

    answer, sent, _ = _run_attack(service, head, chunked=True)

    assert answer.startswith(b"HTTP/1.1 413 "), answer[:100]
    assert b"REQUEST_TOO_LARGE" in answer
    assert sent <= 4 * 1024 * 1024


# In process: what the limit lets through, and that a refused request changes nothing.

LIMIT = 2048


@pytest.fixture
async def limited(
    settings: Settings, emulator: LiteLLMEmulator
) -> AsyncIterator[tuple[Starlette, httpx.AsyncClient]]:
    app = create_app(
        settings.model_copy(update={"max_request_body_bytes": LIMIT}),
        litellm_transport=httpx.ASGITransport(app=emulator.app),
    )
    async with serve(app) as client:
        yield app, client


def _sign_in(padding: int) -> bytes:
    return orjson.dumps(
        {"username": "padded", "email": "padded@example.com", "groups": ["x" * padding]}
    )


async def _users(db_engine: AsyncEngine) -> int:
    async with db_engine.connect() as conn:
        count: int = (await conn.execute(sql_select(func.count()).select_from(User))).scalar_one()
        return count


async def test_a_body_within_the_limit_reaches_the_route(
    limited: tuple[Starlette, httpx.AsyncClient], db_engine: AsyncEngine
) -> None:
    _, client = limited
    body = _sign_in(LIMIT - 200)
    assert len(body) <= LIMIT

    response = await client.post(
        "/auth/dev-login", content=body, headers={"content-type": "application/json"}
    )

    assert response.status_code == 200
    assert await _users(db_engine) == 1


async def test_a_sign_in_over_the_limit_is_refused_and_writes_nothing(
    limited: tuple[Starlette, httpx.AsyncClient], db_engine: AsyncEngine
) -> None:
    _, client = limited

    response = await client.post(
        "/auth/dev-login", content=_sign_in(LIMIT), headers={"content-type": "application/json"}
    )

    assert response.status_code == 413
    assert response.json()["error"]["code"] == "REQUEST_TOO_LARGE"
    assert await _users(db_engine) == 0


async def test_a_chunked_sign_in_over_the_limit_is_refused_and_writes_nothing(
    limited: tuple[Starlette, httpx.AsyncClient], db_engine: AsyncEngine
) -> None:
    _, client = limited
    body = _sign_in(LIMIT)

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 500):
            yield body[start : start + 500]

    response = await client.post(
        "/auth/dev-login", content=chunks(), headers={"content-type": "application/json"}
    )

    assert "content-length" not in response.request.headers
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "REQUEST_TOO_LARGE"
    assert await _users(db_engine) == 0
