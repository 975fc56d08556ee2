"""Repairs what a crash or an outage left half-done between the BFF and LiteLLM.

- users whose LiteLLM sync failed are retried, with backoff;
- keys still PENDING after the grace period: their LiteLLM key (if any) is deleted, then the row;
- LiteLLM keys made by the BFF (alias = a key row id, and its metadata says so) without an
  ACTIVE row are deleted;
- ACTIVE rows whose LiteLLM key is gone are marked revoked;
- the keys of deactivated users are blocked in LiteLLM, the others' unblocked: a key the BFF
  made is blocked there exactly while its owner is deactivated (`users.set_active` does it at
  once; this finishes what an outage interrupted).
A pass stops at the first sign that LiteLLM is unavailable, so it never hammers a sick proxy.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import timedelta

from sqlmodel import col, select

from app.db.models import ApiKey, ApiKeyStatus, User, utcnow
from app.litellm.client import KeyInfo
from app.litellm.errors import LiteLLMError, LiteLLMUnavailable
from app.resources import Resources
from app.services import api_keys, audit, users
from app.services.failures import FailureCode

log = logging.getLogger(__name__)
USERS_PER_PASS = 50


@dataclass(slots=True)
class ReconcileReport:
    users_synced: int = 0
    users_failed: int = 0
    pending_keys_removed: int = 0
    orphan_litellm_keys_deleted: int = 0
    missing_keys_revoked: int = 0
    keys_blocked: int = 0
    keys_unblocked: int = 0
    stopped_early: str | None = None
    errors: list[str] = field(default_factory=list)


async def reconcile(*, resources: Resources) -> ReconcileReport:
    """One repair pass over users and keys."""
    report = ReconcileReport()
    try:
        await _retry_user_syncs(resources, report)
        if report.stopped_early is None:
            await _repair_keys(resources, report)
    except LiteLLMUnavailable as exc:
        report.stopped_early = str(exc)
    if report.stopped_early:
        log.warning("reconcile pass stopped early: %s", report.stopped_early)
    log.info("reconcile pass: %s", report)
    return report


async def _retry_user_syncs(resources: Resources, report: ReconcileReport) -> None:
    for user_id in await users.users_due_for_sync(resources=resources, limit=USERS_PER_PASS):
        failure = await users.ensure_litellm_user(resources=resources, user_id=user_id)
        if failure is None:
            report.users_synced += 1
            continue
        report.users_failed += 1
        if failure.code is FailureCode.LITELLM_UNAVAILABLE:
            report.stopped_early = failure.message
            return


async def _repair_keys(resources: Resources, report: ReconcileReport) -> None:
    grace = timedelta(seconds=resources.settings.pending_key_grace_seconds)
    # LiteLLM is read before the rows: a key made after this instant is judged next pass.
    listed_at = utcnow()
    litellm_keys = await resources.litellm.key_list()
    async with resources.sessions() as session:
        rows = {k.id: k for k in (await session.exec(select(ApiKey))).all()}
        inactive = set(
            (await session.exec(select(User.id).where(col(User.is_active).is_(False)))).all()
        )
    stale_before = utcnow() - grace

    for key in rows.values():
        if key.status is ApiKeyStatus.PENDING and key.created_at < stale_before:
            if not await api_keys.delete_litellm_key(resources=resources, key=key):
                raise LiteLLMUnavailable("LiteLLM became unavailable", reached=False)
            if await api_keys.remove_pending_row(
                resources=resources, key_id=key.id, action="api_key.pending_removed"
            ):
                report.pending_keys_removed += 1

    for info in litellm_keys:
        row_id = _row_id(info)
        if row_id is None or info.deleted or info.token is None:
            continue
        row = rows.get(row_id)
        if row is not None and row.status in api_keys.LIVE_STATUSES:
            continue  # in use, being created, or its pending row was handled above
        try:
            await resources.litellm.key_delete(keys=[info.token])
        except LiteLLMUnavailable:
            raise
        except LiteLLMError as exc:
            report.errors.append(f"deleting orphan key {row_id}: {exc}")
            continue
        report.orphan_litellm_keys_deleted += 1
        await _audit_repair(resources, "api_key.orphan_deleted", row_id, row)

    await _match_blocking_to_owners(resources, report, litellm_keys, rows, inactive)

    live_tokens = {k.token for k in litellm_keys if not k.deleted and k.token}
    for key in rows.values():
        if (
            key.status is ApiKeyStatus.ACTIVE
            and key.updated_at < listed_at
            and key.secret_sha256 not in live_tokens
        ):
            await _revoke_missing(resources, key)
            report.missing_keys_revoked += 1


async def _match_blocking_to_owners(
    resources: Resources,
    report: ReconcileReport,
    litellm_keys: list[KeyInfo],
    rows: dict[uuid.UUID, ApiKey],
    inactive: set[uuid.UUID],
) -> None:
    for info in litellm_keys:
        row_id = _row_id(info)
        row = rows.get(row_id) if row_id is not None else None
        if row is None or row.status is not ApiKeyStatus.ACTIVE or info.token is None:
            continue
        should_block = row.user_id in inactive
        if info.deleted or info.blocked == should_block:
            continue
        failure = await users.set_key_blocked(
            resources=resources, token=info.token, blocked=should_block
        )
        if failure is not None:
            if failure.code is FailureCode.LITELLM_UNAVAILABLE:
                raise LiteLLMUnavailable("LiteLLM became unavailable", reached=False)
            report.errors.append(f"{'blocking' if should_block else 'unblocking'} {row_id}")
            continue
        if should_block:
            report.keys_blocked += 1
        else:
            report.keys_unblocked += 1
        await _audit_repair(
            resources, "api_key.blocked" if should_block else "api_key.unblocked", row.id, row
        )


def _row_id(info: KeyInfo) -> uuid.UUID | None:
    """The key row this LiteLLM key was made for, if the BFF made it (alias and marker agree)."""
    if info.key_alias is None or info.metadata.get(api_keys.KEY_ID_METADATA) != info.key_alias:
        return None
    try:
        return uuid.UUID(info.key_alias)
    except ValueError:
        return None


async def _revoke_missing(resources: Resources, key: ApiKey) -> None:
    async with resources.sessions() as session:
        await api_keys.mark_revoked(session, [key.id])
        audit.record(
            session,
            actor_id=key.user_id,
            action="api_key.revoked_missing_in_litellm",
            resource_type="api_key",
            resource_id=str(key.id),
            success=False,
        )
        await session.commit()


async def _audit_repair(
    resources: Resources, action: str, key_id: uuid.UUID, row: ApiKey | None
) -> None:
    log.warning("%s: %s", action, key_id)
    async with resources.sessions() as session:
        audit.record(
            session,
            actor_id=row.user_id if row is not None else None,
            action=action,
            resource_type="api_key",
            resource_id=str(key_id),
        )
        await session.commit()
