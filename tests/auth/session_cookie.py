"""Read and forge our signed session cookie the way Starlette's SessionMiddleware writes it."""

from __future__ import annotations

import json
from base64 import b64decode, b64encode
from typing import Any

from itsdangerous import TimestampSigner


def read_session(cookie: str, secret: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(b64decode(TimestampSigner(secret).unsign(cookie)))
    return data


def write_session(session: dict[str, Any], secret: str) -> str:
    return TimestampSigner(secret).sign(b64encode(json.dumps(session).encode())).decode()
