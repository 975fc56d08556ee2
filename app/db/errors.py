"""Telling a database that cannot be reached from a bug."""

from __future__ import annotations

import asyncpg
import sqlalchemy.exc

# The connection could not be made, was lost, or the server is refusing or shutting down.
_UNREACHABLE: tuple[type[BaseException], ...] = (
    OSError,  # refused, reset, unreachable host; TimeoutError too
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    sqlalchemy.exc.TimeoutError,  # no pooled connection came free in time
    # The server will not serve this connection: the database does not exist, or the role is
    # unknown, not allowed in, or its password wrong (InvalidPasswordError is one of these).
    asyncpg.InvalidCatalogNameError,
    asyncpg.InvalidAuthorizationSpecificationError,
)


def database_unavailable(error: BaseException | None) -> bool:
    """Whether the error, or one it was raised from, says the database cannot be reached."""
    seen = 0
    while error is not None and seen < 10:
        if isinstance(error, _UNREACHABLE):
            return True
        if isinstance(error, sqlalchemy.exc.DBAPIError) and error.connection_invalidated:
            return True
        error = getattr(error, "orig", None) or error.__cause__
        seen += 1
    return False
