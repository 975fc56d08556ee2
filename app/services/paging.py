"""Page requests of the administrators' lists: how many, and after which cursor."""

from __future__ import annotations

from app.db.repositories.paging import MAX_PAGE_SIZE, Cursor, decode
from app.db.repositories.paging import Page as Page  # what callers receive
from app.failures import Failure, validation


def page_request(
    first: int, after: str | None, *, timestamp: bool
) -> tuple[int, Cursor | None] | Failure:
    """`first` checked (1 to MAX_PAGE_SIZE) and `after` decoded; VALIDATION_FAILED otherwise."""
    if not 1 <= first <= MAX_PAGE_SIZE:
        return validation(f"first must be 1 to {MAX_PAGE_SIZE}", field="first")
    if after is None:
        return first, None
    cursor = decode(after, timestamp=timestamp)
    if cursor is None:
        return validation("after is not a cursor of this list", field="after")
    return first, cursor
