"""Checks of what people send, made before anything is written or sent to LiteLLM.

PostgreSQL refuses NUL bytes and lone surrogates in text, and control characters in a name or
an id have no honest use (they forge log lines and garble pages); numbers must be finite and
within what the columns and LiteLLM hold.
"""

from __future__ import annotations

import math
import unicodedata

from app.failures import Failure, validation

# The length of the id columns (models.id, key names).
MAX_ID_LENGTH = 255
# Budgets are in US dollars; a billion is more than any key or user should be allowed.
MAX_BUDGET = 1_000_000_000.0
# Tokens or requests per minute; well within the 32-bit integer columns.
MAX_RATE_LIMIT = 1_000_000_000
# Control characters, lone surrogates, and the line and paragraph separators.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cs", "Zl", "Zp"})


def has_control_characters(value: str) -> bool:
    """Whether the text holds a character that must never be stored or logged as is."""
    return any(unicodedata.category(c) in _REFUSED_CATEGORIES for c in value)


def check_text(
    value: str, *, field: str, what: str, max_length: int = MAX_ID_LENGTH
) -> Failure | None:
    """VALIDATION_FAILED on `field` unless `value` is 1 to `max_length` printable characters."""
    if not value.strip() or len(value) > max_length:
        return validation(f"{what} must be 1 to {max_length} characters", field=field)
    if has_control_characters(value):
        return validation(f"{what} may not contain control characters", field=field)
    return None


def check_amount(value: float | None, *, field: str, maximum: float) -> Failure | None:
    """VALIDATION_FAILED on `field` unless `value` is absent or a finite number in [0, maximum]."""
    if value is None:
        return None
    if not math.isfinite(value) or not 0 <= value <= maximum:
        return validation(f"{field} must be a number from 0 to {maximum:g}", field=field)
    return None
