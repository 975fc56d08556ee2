"""Ids as clients send them."""

from __future__ import annotations

import uuid


def parse_uuid(value: str) -> uuid.UUID | None:
    """The UUID in `value`, or None: a malformed id is simply one that does not exist."""
    try:
        return uuid.UUID(value)
    except ValueError:
        return None
