"""What can go wrong when talking to LiteLLM, as a small family of exceptions.

The services turn these into error codes; LiteLLM's own message is kept for diagnosis but is
never shown to users (some releases put key hashes in it).
"""

from __future__ import annotations

from typing import Any


class LiteLLMError(Exception):
    """Base class. `status` and `error_type` are LiteLLM's, when it answered at all."""

    def __init__(
        self,
        summary: str,
        *,
        status: int | None = None,
        error_type: str | None = None,
        detail: str | None = None,
    ) -> None:
        super().__init__(summary)
        self.status = status
        self.error_type = error_type
        self.detail = detail


class LiteLLMNotFound(LiteLLMError):
    """404, or a 200 that describes nothing (older releases answer unknown users that way)."""


class LiteLLMConflict(LiteLLMError):
    """The thing already exists (a user id, an e-mail, a key alias)."""


class LiteLLMRejected(LiteLLMError):
    """Any other 4xx: LiteLLM is up and said no. Never counts against the circuit breaker."""


class LiteLLMUnavailable(LiteLLMError):
    """No usable answer: connection error, timeout, 5xx, or the circuit breaker is open.

    `reached` tells whether LiteLLM may have received (and acted on) the request: true for a
    5xx or a read timeout, false when no connection was made.
    """

    def __init__(self, summary: str, *, reached: bool, **kwargs: Any) -> None:
        super().__init__(summary, **kwargs)
        self.reached = reached
