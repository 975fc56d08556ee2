"""Pooled database connections: one PostgreSQL has ended is never handed to a request."""

from __future__ import annotations

import asyncio

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.portal import Portal

MODELS = "{ models { id } }"


async def test_a_request_after_the_database_ended_the_pooled_connections_succeeds(
    portal: Portal, db_engine: AsyncEngine
) -> None:
    first = await portal.gql(MODELS)
    assert first == {"data": {"models": [{"id": "m1"}, {"id": "m2"}]}}

    async with db_engine.connect() as conn:
        ended = (
            await conn.execute(
                text(
                    "SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
        ).scalar_one()
    assert ended >= 1, "the service holds no pooled connection to end"
    await asyncio.sleep(0.2)  # the closed sockets reach the event loop

    assert await portal.gql(MODELS) == first
