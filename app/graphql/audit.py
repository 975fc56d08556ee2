"""The audit trail: `auditEvents`, for administrators and read-only administrators."""

from __future__ import annotations

from datetime import datetime
from typing import cast

import strawberry
from strawberry.scalars import JSON

from app.failures import Failure, validation
from app.graphql.connections import PageInfo
from app.graphql.context import Info
from app.graphql.errors import query_refused
from app.graphql.ids import parse_uuid
from app.graphql.permissions import IsAdminReader, IsAuthenticated
from app.services import audit


@strawberry.type(name="AuditEvent", description="Who did what to which resource; never a secret.")
class AuditEventType:
    id: strawberry.ID
    actor_id: strawberry.ID | None = strawberry.field(
        description="The user who acted; null for the service's own jobs."
    )
    action: str
    subject_type: str
    subject_id: str | None
    success: bool
    details: JSON = strawberry.field(
        description="What changed: values before and after, the reason given, and the like."
    )
    at: datetime

    @classmethod
    def from_read(cls, event: audit.AuditEventRead) -> AuditEventType:
        return cls(
            id=strawberry.ID(str(event.id)),
            actor_id=strawberry.ID(str(event.actor_id)) if event.actor_id is not None else None,
            action=event.action,
            subject_type=event.resource_type,
            subject_id=event.resource_id,
            success=event.success,
            details=cast(JSON, event.details),
            at=event.created_at,
        )


@strawberry.type
class AuditEventEdge:
    cursor: str
    node: AuditEventType


@strawberry.type
class AuditEventConnection:
    edges: list[AuditEventEdge]
    page_info: PageInfo
    total_count: int


@strawberry.input
class AuditEventFilter:
    actor_id: strawberry.ID | None = None
    subject_id: str | None = strawberry.field(
        default=None, description="The id of the user, subscription, key or model acted on."
    )
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = strawberry.field(default=None, description="Exclusive.")


@strawberry.type
class AuditQuery:
    @strawberry.field(
        description="The audit trail, newest first, a page at a time (administrators and "
        "read-only administrators).",
        permission_classes=[IsAuthenticated, IsAdminReader],
    )
    async def audit_events(
        self,
        info: Info,
        filter: AuditEventFilter | None = None,
        first: int = 50,
        after: str | None = None,
    ) -> AuditEventConnection:
        given = filter or AuditEventFilter()
        actor_id = parse_uuid(given.actor_id) if given.actor_id is not None else None
        if given.actor_id is not None and actor_id is None:
            raise query_refused(validation("actorId is not a user id", field="actorId"))
        found = await audit.page(
            audit=info.context.resources.audit,
            found_by=audit.AuditFilter(
                actor_id=actor_id,
                subject_id=given.subject_id,
                action=given.action,
                since=given.since,
                until=given.until,
            ),
            first=first,
            after=after,
        )
        if isinstance(found, Failure):
            raise query_refused(found)
        edges = [
            AuditEventEdge(cursor=e.cursor, node=AuditEventType.from_read(e.node))
            for e in found.edges
        ]
        return AuditEventConnection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=found.has_next, end_cursor=edges[-1].cursor if edges else None
            ),
            total_count=found.total,
        )
