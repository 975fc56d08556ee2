"""Relay-style paging of the administrators' lists: `edges { cursor node }`, `pageInfo`,
`totalCount`."""

from __future__ import annotations

import strawberry


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None = strawberry.field(
        description="Pass it as `after` for the next page; null on an empty page."
    )
