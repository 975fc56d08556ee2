"""Repairs what a crash or an outage left half-done between the BFF and LiteLLM.

- users whose LiteLLM sync failed are retried, with backoff;
- keys still PENDING after the grace period: their LiteLLM key (if any) is deleted, then the row;
- keys whose update or rotation was interrupted (still changing after the grace period) are
  made the same in LiteLLM as their row;
- LiteLLM keys made by the BFF (alias = a key row id, or "<row id>/..." after a rotation, and
  its metadata says so) that are not their row's current secret, nor its replaced secret
  within the rotation's grace period, are deleted;
- ACTIVE rows whose LiteLLM key is gone are marked revoked;
- the keys of deactivated users are blocked in LiteLLM, the others' unblocked: a key the BFF
  made is blocked there exactly while its owner is deactivated or it has no model its owner's
  subscription to is ACTIVE (`users.update` and the subscription decisions do it at once;
  this finishes what a crash interrupted);
- a key LiteLLM lets call a model its row does not give it now (not on the key, or its
  owner's subscription to it is not ACTIVE: a creation or change that raced a suspension
  and could not withdraw the model, as `api_keys` does at once, because LiteLLM failed)
  is narrowed to the row's models its owner may call; one left with none is blocked above,
  never emptied.
A pass stops at the first sign that LiteLLM is unavailable, so it never hammers a sick proxy.
Deleting orphans, revoking missing keys, narrowing and unblocking keys go through the safety
valve (`app.services.safety`): an empty or wrong LiteLLM, or a wrong database, makes them hold
rather than change everything.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from app.db.models import ApiKeyStatus, utcnow
from app.db.repositories.api_keys import LIVE_STATUSES, ApiKeyRepository, KeyState
from app.db.repositories.safety import HoldKind
from app.db.repositories.users import UserRepository
from app.failures import FailureCode
from app.litellm.client import KeyInfo, LiteLLMClient
from app.litellm.errors import LiteLLMError, LiteLLMNotFound, LiteLLMUnavailable
from app.metrics import Metrics
from app.services import api_keys, safety, users
from app.services.users import LiteLLMUserSync
from app.settings import Settings

log = logging.getLogger(__name__)
USERS_PER_PASS = 50


@dataclass(slots=True)
class ReconcileReport:
    users_synced: int = 0
    users_failed: int = 0
    pending_keys_removed: int = 0
    orphan_litellm_keys_deleted: int = 0
    missing_keys_revoked: int = 0
    held: list[HoldKind] = field(default_factory=list)
    keys_blocked: int = 0
    keys_narrowed: int = 0
    keys_unblocked: int = 0
    stopped_early: str | None = None
    errors: list[str] = field(default_factory=list)
    changes_repaired: int = 0


@dataclass(frozen=True, slots=True)
class Reconciler:
    """What a repair pass reads and changes."""

    api_keys: ApiKeyRepository
    users: UserRepository
    litellm: LiteLLMClient
    valve: safety.Valve
    user_sync: LiteLLMUserSync
    settings: Settings
    metrics: Metrics

    async def run(self) -> ReconcileReport:
        """One repair pass over users and keys."""
        return await _reconcile(self)


async def _reconcile(job: Reconciler) -> ReconcileReport:
    report = ReconcileReport()
    try:
        await _retry_user_syncs(job, report)
        if report.stopped_early is None:
            await _repair_keys(job, report)
    except LiteLLMUnavailable as exc:
        report.stopped_early = str(exc)
    finally:
        _record(job, report)
    job.metrics.user_sync_backlog.set(await job.users.count_sync_errors())
    if report.stopped_early:
        log.warning("reconcile pass stopped early: %s", report.stopped_early)
    log.info("reconcile pass: %s", report)
    return report


def _record(job: Reconciler, report: ReconcileReport) -> None:
    for kind, count in (
        ("pending_key_removed", report.pending_keys_removed),
        ("orphan_key_deleted", report.orphan_litellm_keys_deleted),
        ("missing_key_revoked", report.missing_keys_revoked),
        ("key_blocked", report.keys_blocked),
        ("key_narrowed", report.keys_narrowed),
        ("key_unblocked", report.keys_unblocked),
    ):
        job.metrics.reconciler_repairs.labels(kind=kind).inc(count)


async def _retry_user_syncs(job: Reconciler, report: ReconcileReport) -> None:
    for user_id in await job.users.due_for_sync(limit=USERS_PER_PASS):
        failure = await job.user_sync.ensure(user_id)
        if failure is None:
            report.users_synced += 1
            continue
        report.users_failed += 1
        if failure.code is FailureCode.LITELLM_UNAVAILABLE:
            report.stopped_early = failure.message
            return


async def _repair_keys(job: Reconciler, report: ReconcileReport) -> None:
    grace = timedelta(seconds=job.settings.pending_key_grace_seconds)
    # LiteLLM is read before the rows: a key made after this instant is judged next pass.
    listed_at = utcnow()
    litellm_keys = await job.litellm.key_list()
    rows = await job.api_keys.states()
    inactive = await job.users.inactive_ids()
    stale_before = utcnow() - grace

    for key in rows.values():
        if key.status is ApiKeyStatus.PENDING and key.created_at < stale_before:
            if not await api_keys.delete_litellm_key(
                litellm=job.litellm, key_id=key.id, user_id=key.user_id
            ):
                raise LiteLLMUnavailable("LiteLLM became unavailable", reached=False)
            if await job.api_keys.remove_pending(key.id, action="api_key.pending_removed"):
                report.pending_keys_removed += 1

    changing_since = {
        key.id: key.changing_since for key in rows.values() if key.changing_since is not None
    }
    for key_id, since in changing_since.items():
        if since < stale_before:
            await _finish_change(job, report, key_id)
    # Changes under way now: the LiteLLM keys they may be making are judged next pass.
    busy = {key_id for key_id, since in changing_since.items() if since >= stale_before}

    # LiteLLM keys this service made: token -> the key row they were made for.
    made_here = {
        info.token: row_id
        for info in litellm_keys
        if (row_id := _row_id(info)) is not None and not info.deleted and info.token is not None
    }
    now = utcnow()
    orphans = {
        token: row_id
        for token, row_id in made_here.items()
        if row_id not in busy and not _in_use(rows.get(row_id), token, now)
    }
    allowed = await _permitted(
        job, report, HoldKind.DELETE_ORPHAN_KEYS, set(orphans.values()), total=len(made_here)
    )
    for token, row_id in orphans.items():
        if row_id not in allowed:
            continue
        row = rows.get(row_id)
        try:
            await job.litellm.key_delete(keys=[token])
        except LiteLLMUnavailable:
            raise
        except LiteLLMError as exc:
            report.errors.append(f"deleting orphan key {row_id}: {exc}")
            continue
        report.orphan_litellm_keys_deleted += 1
        if row is not None and row.previous_secret_sha256 == token:
            await job.api_keys.forget_previous(row_id, token)
        await _audit_repair(job, "api_key.orphan_deleted", row_id, row)

    await _match_access_to_owners(job, report, litellm_keys, rows, inactive)

    live_tokens = {k.token for k in litellm_keys if not k.deleted and k.token}
    active = [key for key in rows.values() if key.status is ApiKeyStatus.ACTIVE]
    missing = {
        key.id: key
        for key in active
        if key.updated_at < listed_at and key.secret_sha256 not in live_tokens
    }
    allowed = await _permitted(
        job, report, HoldKind.REVOKE_MISSING_KEYS, missing, total=len(active)
    )
    for key_id, key in missing.items():
        if key_id in allowed:
            await _revoke_missing(job, key)
            report.missing_keys_revoked += 1


async def _permitted(
    job: Reconciler,
    report: ReconcileReport,
    kind: HoldKind,
    proposed: Collection[uuid.UUID],
    *,
    total: int,
) -> set[uuid.UUID]:
    """The proposed key ids the safety valve lets this pass change."""
    allowed = await job.valve.permitted(kind=kind, proposed=[str(i) for i in proposed], total=total)
    if len(allowed) < len(proposed):
        report.held.append(kind)
    return {uuid.UUID(i) for i in allowed}


async def _match_access_to_owners(
    job: Reconciler,
    report: ReconcileReport,
    litellm_keys: list[KeyInfo],
    rows: dict[uuid.UUID, KeyState],
    inactive: set[uuid.UUID],
) -> None:
    # LiteLLM keys this service made for active rows (a rotated row may have two): the row and
    # what LiteLLM has of the key.
    live = [
        (row, info)
        for info in litellm_keys
        if (row_id := _row_id(info)) is not None
        and (row := rows.get(row_id)) is not None
        and row.status is ApiKeyStatus.ACTIVE
        and info.token is not None
        and not info.deleted
    ]
    total = len({row.id for row, _ in live})

    def changes(*, blocked: bool) -> list[tuple[KeyState, KeyInfo]]:
        return [
            (row, info)
            for row, info in live
            if info.blocked != blocked and _must_be_blocked(row, inactive) == blocked
        ]

    # Blocking closes access its owner has lost: never held. Narrowing or unblocking many at
    # once (a wrong database; keys an operator blocked by hand during an incident) waits for
    # an admin.
    for row, info in changes(blocked=True):
        await _set_blocked(job, report, row, info, blocked=True)
    # A change under way may have given LiteLLM the key's new models already: judged later.
    to_narrow = [
        (row, info)
        for row, info in live
        if row.reachable and row.changing_since is None and set(info.models) - set(row.reachable)
    ]
    allowed = await _permitted(
        job, report, HoldKind.NARROW_KEYS, {row.id for row, _ in to_narrow}, total=total
    )
    for row, info in to_narrow:
        if row.id in allowed:
            await _narrow(job, report, row, info)
    to_unblock = changes(blocked=False)
    allowed = await _permitted(
        job, report, HoldKind.UNBLOCK_KEYS, {row.id for row, _ in to_unblock}, total=total
    )
    for row, info in to_unblock:
        if row.id in allowed:
            await _set_blocked(job, report, row, info, blocked=False)


async def _narrow(job: Reconciler, report: ReconcileReport, row: KeyState, info: KeyInfo) -> None:
    assert info.token is not None
    try:
        await job.litellm.key_set_models(key=info.token, models=row.reachable)
    except LiteLLMUnavailable:
        raise
    except LiteLLMError as exc:
        report.errors.append(f"narrowing {row.id}: {exc}")
        return
    report.keys_narrowed += 1
    log.warning(
        "key %s: LiteLLM let it call %s; narrowed to %s",
        row.id,
        sorted(set(info.models) - set(row.reachable)),
        list(row.reachable),
    )
    await _audit_repair(job, "api_key.narrowed", row.id, row)


async def _set_blocked(
    job: Reconciler, report: ReconcileReport, row: KeyState, info: KeyInfo, *, blocked: bool
) -> None:
    assert info.token is not None
    failure = await users.set_key_blocked(litellm=job.litellm, token=info.token, blocked=blocked)
    if failure is not None:
        if failure.code is FailureCode.LITELLM_UNAVAILABLE:
            raise LiteLLMUnavailable("LiteLLM became unavailable", reached=False)
        report.errors.append(f"{'blocking' if blocked else 'unblocking'} {row.id}")
        return
    if blocked:
        report.keys_blocked += 1
    else:
        report.keys_unblocked += 1
    await _audit_repair(job, "api_key.blocked" if blocked else "api_key.unblocked", row.id, row)


def _must_be_blocked(row: KeyState, inactive: set[uuid.UUID]) -> bool:
    # LiteLLM reads a key without models as one for every model: one that may call none of
    # its models (all suspended) is blocked instead.
    return row.user_id in inactive or not row.reachable


def _row_id(info: KeyInfo) -> uuid.UUID | None:
    """The key row this LiteLLM key was made for, if the BFF made it (alias and marker agree)."""
    marker = info.metadata.get(api_keys.KEY_ID_METADATA)
    if info.key_alias is None or not isinstance(marker, str):
        return None
    if info.key_alias != marker and not info.key_alias.startswith(
        marker + api_keys.ROTATED_ALIAS_SEPARATOR
    ):
        return None
    try:
        return uuid.UUID(marker)
    except ValueError:
        return None


def _in_use(row: KeyState | None, token: str, now: datetime) -> bool:
    """Whether the row is live and this is its secret, or its replaced one still in grace.

    A PENDING row's key is in use: the pending clean-up above handles it."""
    if row is None or row.status not in LIVE_STATUSES:
        return False
    if row.status is ApiKeyStatus.PENDING or token == row.secret_sha256:
        return True
    return (
        token == row.previous_secret_sha256
        and row.previous_valid_until is not None
        and row.previous_valid_until > now
    )


async def _finish_change(job: Reconciler, report: ReconcileReport, key_id: uuid.UUID) -> None:
    """An interrupted update or rotation: LiteLLM's key is made the same as the row again."""
    key = await job.api_keys.get(key_id)
    if key is None:
        return
    if key.status is ApiKeyStatus.ACTIVE and key.models:
        try:
            await api_keys.push_state(litellm=job.litellm, key=key)
        except LiteLLMUnavailable:
            raise
        except LiteLLMNotFound:
            pass  # gone there: revoked below as missing
        except LiteLLMError as exc:
            report.errors.append(f"repairing the change of key {key_id}: {exc}")
            return
    await job.api_keys.end_change(key_id)
    report.changes_repaired += 1
    await _audit_repair(job, "api_key.change_repaired", key_id, None)


async def _revoke_missing(job: Reconciler, key: KeyState) -> None:
    await job.api_keys.revoke(
        key.id, actor_id=key.user_id, action="api_key.revoked_missing_in_litellm", success=False
    )


async def _audit_repair(
    job: Reconciler, action: str, key_id: uuid.UUID, row: KeyState | None
) -> None:
    log.warning("%s: %s", action, key_id)
    await job.api_keys.record(action, key_id, actor_id=row.user_id if row is not None else None)
