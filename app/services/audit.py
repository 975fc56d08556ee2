"""The audit trail as administrators read it."""

from __future__ import annotations

from app.db.repositories.audit import AuditEventRead as AuditEventRead  # what callers receive
from app.db.repositories.audit import AuditFilter as AuditFilter  # what callers pass
from app.db.repositories.audit import AuditRepository
from app.failures import Failure, validation
from app.services import inputs
from app.services.paging import Page, page_request


async def page(
    *, audit: AuditRepository, found_by: AuditFilter, first: int, after: str | None
) -> Page[AuditEventRead] | Failure:
    """A page of the events `found_by` matches, newest first.

    Failures: VALIDATION_FAILED (`first`, `after`, a text filter, or `since` after `until`).
    """
    for field, value in (("subjectId", found_by.subject_id), ("action", found_by.action)):
        invalid = value is not None and inputs.check_text(value, field=field, what=field)
        if invalid:
            return invalid
    for field, moment in (("since", found_by.since), ("until", found_by.until)):
        if moment is not None and moment.tzinfo is None:
            return validation(f"{field} needs a time zone", field=field)
    if found_by.since and found_by.until and found_by.since > found_by.until:
        return validation("since must not be after until", field="since")
    request = page_request(first, after, timestamp=True)
    if isinstance(request, Failure):
        return request
    size, cursor = request
    return await audit.page(found_by, first=size, after=cursor)
