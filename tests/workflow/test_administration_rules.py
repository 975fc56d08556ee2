"""Administration's rules with the emulator: bulk decisions, illegal moves, nothing half-done
when LiteLLM fails, the reconciler leaving suspended keys blocked, and lists paged in constant
SQL."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any

import httpx
import orjson
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.applications import Starlette

from app.auth.session import SESSION_COOKIE
from app.db.models import ApiKey, AuditEvent, Subscription, SubscriptionStatus, User
from app.main import create_app
from app.resources import Resources
from app.services import safety
from app.settings import Settings
from litellm_emulator import LiteLLMEmulator
from tests import documents
from tests.conftest import lock_waiters, serve
from tests.portal import Portal
from tests.workflow.test_queries import counted_statements


class FlakyNetwork(httpx.AsyncBaseTransport):
    """The wire to LiteLLM, which can refuse the n-th request to one path, or run something
    else once LiteLLM has answered the first request to another (before the BFF reads it)."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.fail_path: str | None = None
        self.fail_at = 0
        self.seen: list[str] = []
        self.meanwhile: dict[str, Callable[[], Awaitable[None]]] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request.url.path)
        if request.url.path == self.fail_path and self.seen.count(self.fail_path) == self.fail_at:
            raise httpx.ConnectError("LiteLLM went away", request=request)
        response = await self.inner.handle_async_request(request)
        meanwhile = self.meanwhile.pop(request.url.path, None)
        if meanwhile is not None:
            await meanwhile()
        return response


@pytest.fixture
def network(emulator: LiteLLMEmulator) -> FlakyNetwork:
    return FlakyNetwork(httpx.ASGITransport(app=emulator.app))


@pytest.fixture
def app(settings: Settings, network: FlakyNetwork) -> Starlette:
    return create_app(settings, litellm_transport=network)


class Desk:
    """One browser for an administrator and a user, switching session cookies."""

    def __init__(self, portal: Portal) -> None:
        self.portal = portal
        self.sessions: dict[str, str] = {}
        self.ids: dict[str, str] = {}

    async def sign_in(self, who: str, *, admin: bool = False) -> None:
        self.portal.client.cookies.clear()
        self.ids[who] = await self.portal.login(who, groups=["litemaas-admins"] if admin else [])
        self.sessions[who] = self.portal.client.cookies[SESSION_COOKIE]

    def as_(self, who: str) -> Portal:
        self.portal.client.cookies.clear()
        self.portal.client.cookies.set(SESSION_COOKIE, self.sessions[who])
        return self.portal


@pytest.fixture
async def desk(app: Starlette) -> AsyncIterator[Desk]:
    async with serve(app) as client:
        desk = Desk(Portal(client))
        await desk.sign_in("root", admin=True)
        await desk.sign_in("alice")
        yield desk


async def _add_users(db_engine: AsyncEngine, count: int, prefix: str) -> list[uuid.UUID]:
    users = [
        User(
            username=f"{prefix}-{i:04d}",
            email=f"{prefix}-{i:04d}@example.com",
            oauth_provider="dev",
            oauth_subject=f"{prefix}-{i:04d}",
            max_budget=100,
            tpm_limit=1000,
            rpm_limit=10,
        )
        for i in range(count)
    ]
    async with AsyncSession(db_engine, expire_on_commit=False) as db:
        db.add_all(users)
        await db.commit()
    return [u.id for u in users]


async def test_a_bulk_approval_of_50_with_2_illegal_answers_48_successes_and_2_typed_errors(
    desk: Desk, db_engine: AsyncEngine
) -> None:
    user_ids = await _add_users(db_engine, 50, "requester")
    subscriptions = [
        Subscription(
            user_id=user_id,
            model_id="m1",
            status=SubscriptionStatus.ACTIVE if i in (7, 31) else SubscriptionStatus.PENDING,
        )
        for i, user_id in enumerate(user_ids)
    ]
    async with AsyncSession(db_engine, expire_on_commit=False) as db:
        db.add_all(subscriptions)
        await db.commit()
    ids = [str(s.id) for s in subscriptions]

    result = (await desk.as_("root").data(documents.SUBSCRIPTION_APPROVE, ids=ids, reason="ok"))[
        "subscriptionApprove"
    ]
    queue = (
        await desk.as_("root").data(documents.SUBSCRIPTION_REQUESTS, status="PENDING", first=100)
    )["subscriptionRequests"]

    assert (result["succeeded"], result["failed"]) == (48, 2)
    assert [o["subscriptionId"] for o in result["outcomes"]] == ids
    failed = [(i, o["result"]) for i, o in enumerate(result["outcomes"]) if "code" in o["result"]]
    assert [i for i, _ in failed] == [7, 31]
    assert {r["__typename"] for _, r in failed} == {"InvalidStateTransitionError"}
    assert {r["code"] for _, r in failed} == {"INVALID_STATE_TRANSITION"}
    assert "active" in failed[0][1]["message"]
    assert queue["totalCount"] == 0


async def test_illegal_moves_are_typed_errors_and_change_nothing(desk: Desk) -> None:
    alice = desk.as_("alice")
    subscription = (await alice.subscribe("m1"))["subscription"]
    root = desk.as_("root")

    reactivate = await root.data(documents.SUBSCRIPTION_REACTIVATE, id=subscription["id"])
    deny = await root.data(documents.SUBSCRIPTION_DENY, ids=[subscription["id"]])
    unknown = await root.data(documents.SUBSCRIPTION_SUSPEND, id=str(uuid.uuid4()))
    too_many = await root.data(documents.SUBSCRIPTION_APPROVE, ids=["x"] * 101)
    reverted = await root.data(documents.SUBSCRIPTION_REVERT, id=subscription["id"])
    suspend_pending = await root.data(documents.SUBSCRIPTION_SUSPEND, id=subscription["id"])
    history = (await root.data(documents.SUBSCRIPTION_REQUESTS, userId=desk.ids["alice"]))[
        "subscriptionRequests"
    ]["edges"][0]["node"]["history"]

    assert reactivate["subscriptionReactivate"]["code"] == "INVALID_STATE_TRANSITION"
    assert deny["subscriptionDeny"]["outcomes"][0]["result"]["code"] == "INVALID_STATE_TRANSITION"
    assert unknown["subscriptionSuspend"]["code"] == "NOT_FOUND"
    assert too_many["subscriptionApprove"]["code"] == "VALIDATION_FAILED"
    assert reverted["subscriptionRevert"]["subscription"]["status"] == "PENDING"
    assert suspend_pending["subscriptionSuspend"]["code"] == "INVALID_STATE_TRANSITION"
    assert [(h["from"], h["to"]) for h in history] == [(None, "ACTIVE"), ("ACTIVE", "PENDING")]


async def test_suspending_with_litellm_failing_midway_changes_nothing_on_either_side(
    desk: Desk, network: FlakyNetwork, emulator: LiteLLMEmulator
) -> None:
    alice = desk.as_("alice")
    subscription = (await alice.subscribe("m1"))["subscription"]
    await alice.subscribe("m2")
    both = await alice.create_key(["m1", "m2"], name="both")
    first = await alice.create_key(["m1"], name="first")
    second = await alice.create_key(["m1"], name="second")
    network.fail_path, network.fail_at = "/key/block", 2

    result = await desk.as_("root").data(documents.SUBSCRIPTION_SUSPEND, id=subscription["id"])
    listed = {k.key_alias: (k.models, bool(k.blocked)) for k in emulator.keys.values()}
    mine = await desk.as_("alice").data(documents.SUBSCRIPTIONS)

    assert result["subscriptionSuspend"]["code"] == "LITELLM_UNAVAILABLE"
    # One single-model key was blocked, blocking the other failed: the first is unblocked
    # again, and the two-model key, if narrowed already, gets m1 back.
    assert network.seen.count("/key/unblock") == 1
    assert network.seen.count("/key/update") in (0, 2)
    assert listed == {
        both["apiKey"]["id"]: (("m1", "m2"), False),
        first["apiKey"]["id"]: (("m1",), False),
        second["apiKey"]["id"]: (("m1",), False),
    }
    assert {s["status"] for s in mine["subscriptions"]} == {"ACTIVE"}


async def test_the_reconciler_leaves_a_suspended_single_model_key_blocked(
    desk: Desk, emulator: LiteLLMEmulator, resources: Resources
) -> None:
    alice = desk.as_("alice")
    subscription = (await alice.subscribe("m1"))["subscription"]
    await alice.subscribe("m2")
    await alice.create_key(["m1"], name="only")
    await alice.create_key(["m2"], name="other")
    await desk.as_("root").data(documents.SUBSCRIPTION_SUSPEND, id=subscription["id"])

    report = await resources.reconciler.run()

    assert (report.keys_blocked, report.keys_unblocked, report.held) == (0, 0, [])
    assert sorted((k.models, bool(k.blocked)) for k in emulator.keys.values()) == [
        (("m1",), True),
        (("m2",), False),
    ]


def _suspend_meanwhile(
    desk: Desk, app: Starlette, subscription_id: str
) -> Callable[[], Coroutine[Any, Any, None]]:
    """An administrator, in another browser, suspends the subscription."""

    async def suspend() -> None:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://testserver",
            cookies={SESSION_COOKIE: desk.sessions["root"]},
        ) as other_browser:
            result = await Portal(other_browser).data(
                documents.SUBSCRIPTION_SUSPEND, id=subscription_id
            )
        assert result["subscriptionSuspend"]["subscription"]["status"] == "SUSPENDED"

    return suspend


def _litellm_keys(emulator: LiteLLMEmulator) -> dict[str, tuple[tuple[str, ...], bool]]:
    return {k.key_alias or "": (k.models, bool(k.blocked)) for k in emulator.keys.values()}


async def test_a_key_made_while_its_model_was_suspended_loses_that_model_at_once(
    desk: Desk,
    app: Starlette,
    network: FlakyNetwork,
    emulator: LiteLLMEmulator,
    resources: Resources,
) -> None:
    alice = desk.as_("alice")
    m1 = (await alice.subscribe("m1"))["subscription"]
    await alice.subscribe("m2")
    # The suspension lands after LiteLLM made the key, before the BFF stored it as active.
    network.meanwhile["/key/generate"] = _suspend_meanwhile(desk, app, m1["id"])
    both = await desk.as_("alice").create_key(["m1", "m2"], name="both")
    only = await desk.as_("alice").create_key(["m1"], name="only")

    report = await resources.reconciler.run()

    assert "/key/generate" not in network.meanwhile  # the suspension did run in between
    assert [m["id"] for m in both["apiKey"]["modelAccess"]] == ["m2"]
    assert only["code"] == "MODEL_ACCESS_DENIED"  # after the suspension: refused as ever
    assert _litellm_keys(emulator) == {both["apiKey"]["id"]: (("m2",), False)}
    assert (report.keys_narrowed, report.keys_blocked) == (0, 0)


async def test_a_single_model_key_made_while_its_model_was_suspended_is_blocked_at_once(
    desk: Desk, app: Starlette, network: FlakyNetwork, emulator: LiteLLMEmulator
) -> None:
    alice = desk.as_("alice")
    m1 = (await alice.subscribe("m1"))["subscription"]
    network.meanwhile["/key/generate"] = _suspend_meanwhile(desk, app, m1["id"])
    only = await desk.as_("alice").create_key(["m1"], name="only")

    assert "/key/generate" not in network.meanwhile
    assert only["apiKey"]["modelAccess"] == []
    assert _litellm_keys(emulator) == {only["apiKey"]["id"]: (("m1",), True)}


async def test_a_key_given_a_model_while_it_was_suspended_loses_that_model_at_once(
    desk: Desk, app: Starlette, network: FlakyNetwork, emulator: LiteLLMEmulator
) -> None:
    alice = desk.as_("alice")
    m1 = (await alice.subscribe("m1"))["subscription"]
    await alice.subscribe("m2")
    key_id = (await alice.create_key(["m2"], name="growing"))["apiKey"]["id"]
    network.meanwhile["/key/update"] = _suspend_meanwhile(desk, app, m1["id"])
    updated = await desk.as_("alice").data(
        documents.API_KEY_UPDATE, id=key_id, input={"modelIds": ["m1", "m2"]}
    )

    assert "/key/update" not in network.meanwhile
    assert [m["id"] for m in updated["apiKeyUpdate"]["apiKey"]["modelAccess"]] == ["m2"]
    assert _litellm_keys(emulator) == {key_id: (("m2",), False)}


async def test_a_key_stored_while_a_suspension_is_under_way_waits_for_it(
    desk: Desk,
    app: Starlette,
    network: FlakyNetwork,
    emulator: LiteLLMEmulator,
    db_engine: AsyncEngine,
) -> None:
    """The suspension holds its subscription while it changes LiteLLM; a key activated then
    waits for its outcome instead of slipping past it."""
    alice = desk.as_("alice")
    m1 = (await alice.subscribe("m1"))["subscription"]
    await alice.subscribe("m2")
    first = (await alice.create_key(["m1", "m2"], name="first"))["apiKey"]["id"]
    reached, go = asyncio.Event(), asyncio.Event()

    async def hold_the_suspension_in_litellm() -> None:
        reached.set()
        await go.wait()

    suspension: list[asyncio.Task[None]] = []

    async def suspend_and_let_the_key_be_stored() -> None:
        suspension.append(asyncio.create_task(_suspend_meanwhile(desk, app, m1["id"])()))
        await reached.wait()  # the suspension holds m1's row now, and waits in LiteLLM

    network.meanwhile["/key/generate"] = suspend_and_let_the_key_be_stored
    network.meanwhile["/key/update"] = hold_the_suspension_in_litellm  # narrowing `first`
    creation = asyncio.create_task(desk.as_("alice").create_key(["m1", "m2"], name="second"))
    waiting = await lock_waiters(db_engine, 1, stop=creation.done)
    go.set()
    second = (await creation)["apiKey"]["id"]
    await suspension[0]

    assert waiting == 1, "the activation was to wait for the suspension"
    assert _litellm_keys(emulator) == {first: (("m2",), False), second: (("m2",), False)}


async def test_the_reconciler_narrows_a_key_litellm_still_gives_a_suspended_model(
    desk: Desk, emulator: LiteLLMEmulator, resources: Resources, db_engine: AsyncEngine
) -> None:
    alice = desk.as_("alice")
    m1 = (await alice.subscribe("m1"))["subscription"]
    await alice.subscribe("m2")
    other = (await alice.create_key(["m2"], name="other"))["apiKey"]["id"]
    created = await alice.create_key(["m1", "m2"], name="both")
    key_id = created["apiKey"]["id"]
    await desk.as_("root").data(documents.SUBSCRIPTION_SUSPEND, id=m1["id"])
    # What a change LiteLLM applied but the BFF never heard of may leave (e.g. a timeout).
    await resources.litellm.key_set_models(key=created["secret"], models=["m1", "m2"])

    report = await resources.reconciler.run()
    again = await resources.reconciler.run()

    assert _litellm_keys(emulator) == {key_id: (("m2",), False), other: (("m2",), False)}
    assert (report.keys_narrowed, report.keys_blocked, report.held) == (1, 0, [])
    assert again.keys_narrowed == 0
    async with AsyncSession(db_engine) as session:
        narrowed = (
            await session.exec(select(AuditEvent).where(AuditEvent.action == "api_key.narrowed"))
        ).all()
    assert [e.resource_id for e in narrowed] == [key_id]


async def test_narrowing_every_key_at_once_is_held(
    desk: Desk, emulator: LiteLLMEmulator, resources: Resources, db_engine: AsyncEngine
) -> None:
    alice = desk.as_("alice")
    await alice.subscribe("m1")
    await alice.subscribe("m2")
    for name in ("a", "b", "c"):
        await alice.create_key(["m1", "m2"], name=name)
    before = _litellm_keys(emulator)
    # A wrong database: every subscription to m1 suspended without LiteLLM being told.
    async with db_engine.begin() as conn:
        await conn.execute(
            sa.update(Subscription)
            .where(col(Subscription.model_id) == "m1")
            .values(status=SubscriptionStatus.SUSPENDED)
        )

    report = await resources.reconciler.run()

    assert _litellm_keys(emulator) == before
    assert (report.keys_narrowed, report.held) == (0, [safety.HoldKind.NARROW_KEYS])


async def test_a_keys_model_access_shows_only_the_models_it_may_call_now(
    desk: Desk, client: httpx.AsyncClient
) -> None:
    alice = desk.as_("alice")
    m1 = (await alice.subscribe("m1"))["subscription"]
    await alice.subscribe("m2")
    both = await alice.create_key(["m1", "m2"], name="both")
    only = await alice.create_key(["m1"], name="only")
    await desk.as_("root").data(documents.SUBSCRIPTION_SUSPEND, id=m1["id"])

    listed = {
        k["name"]: [m["id"] for m in k["modelAccess"]] for k in await desk.as_("alice").keys()
    }
    renamed = await desk.as_("alice").data(
        documents.API_KEY_UPDATE, id=both["apiKey"]["id"], input={"name": "both, renamed"}
    )
    # What the key itself is told, without a session: `modelAccess(model:)` and `/authz`.
    client.cookies.clear()
    granted = {
        (name, model): await _granted(client, created["secret"], model)
        for name, created in (("both", both), ("only", only))
        for model in ("m1", "m2")
    }
    await desk.as_("root").data(documents.SUBSCRIPTION_REACTIVATE, id=m1["id"])
    after = {k["name"]: [m["id"] for m in k["modelAccess"]] for k in await desk.as_("alice").keys()}

    assert listed == {"both": ["m2"], "only": []}
    assert [m["id"] for m in renamed["apiKeyUpdate"]["apiKey"]["modelAccess"]] == ["m2"]
    assert granted == {
        ("both", "m1"): False,
        ("both", "m2"): True,
        ("only", "m1"): False,
        ("only", "m2"): False,
    }
    assert after == {"both, renamed": ["m1", "m2"], "only": ["m1"]}


async def _granted(client: httpx.AsyncClient, secret: str, model: str) -> bool:
    """Whether `modelAccess(model:)` and `/authz` both grant the key the model (they agree)."""
    headers = {"Authorization": f"Bearer {secret}"}
    graphql = await client.post(
        "/graphql",
        json={"query": documents.MODEL_ACCESS, "variables": {"model": model}},
        headers=headers,
    )
    authz = await client.get("/authz", params={"model": model}, headers=headers)
    granted = graphql.json()["data"]["modelAccess"]["__typename"] == "ModelAccessGranted"
    assert granted is (authz.status_code == 200), authz.text
    return granted


async def test_editing_or_rotating_a_key_never_gives_it_back_a_suspended_model(
    desk: Desk, emulator: LiteLLMEmulator
) -> None:
    alice = desk.as_("alice")
    m1 = (await alice.subscribe("m1"))["subscription"]
    await alice.subscribe("m2")
    both = (await alice.create_key(["m1", "m2"], name="both"))["apiKey"]["id"]
    only = (await alice.create_key(["m1"], name="only"))["apiKey"]["id"]
    await desk.as_("root").data(documents.SUBSCRIPTION_SUSPEND, id=m1["id"])

    alice = desk.as_("alice")
    for key_id in (both, only):
        renamed = await alice.data(documents.API_KEY_UPDATE, id=key_id, input={"name": "new"})
        assert renamed["apiKeyUpdate"]["__typename"] == "ApiKeyUpdateSuccess"
    edited = _litellm_keys(emulator)
    for key_id in (both, only):
        rotated = await alice.data(
            documents.API_KEY_ROTATE, id=key_id, input={"gracePeriodSeconds": 0}
        )
        assert rotated["apiKeyRotate"]["__typename"] == "ApiKeyRotateSuccess"
    rotated_keys = {alias.split("/")[0]: state for alias, state in _litellm_keys(emulator).items()}

    assert edited == {both: (("m2",), False), only: (("m1",), True)}
    assert rotated_keys == {both: (("m2",), False), only: (("m1",), True)}


async def test_rotating_a_blocked_key_with_litellm_failing_to_block_the_new_one_changes_nothing(
    desk: Desk, network: FlakyNetwork, emulator: LiteLLMEmulator, db_engine: AsyncEngine
) -> None:
    alice = desk.as_("alice")
    m1 = (await alice.subscribe("m1"))["subscription"]
    key_id = (await alice.create_key(["m1"], name="only"))["apiKey"]["id"]
    await desk.as_("root").data(documents.SUBSCRIPTION_SUSPEND, id=m1["id"])
    before = _litellm_keys(emulator)
    network.fail_path, network.fail_at = "/key/block", 2  # the first blocked the old secret

    rotated = await desk.as_("alice").data(
        documents.API_KEY_ROTATE, id=key_id, input={"gracePeriodSeconds": 0}
    )

    assert rotated["apiKeyRotate"]["code"] == "LITELLM_UNAVAILABLE"
    assert _litellm_keys(emulator) == before == {key_id: (("m1",), True)}
    async with AsyncSession(db_engine) as session:
        row = await session.get(ApiKey, uuid.UUID(key_id))
    assert row is not None
    assert row.changing_since is None


async def test_cancelling_keeps_a_key_off_its_suspended_models(
    desk: Desk, emulator: LiteLLMEmulator
) -> None:
    alice = desk.as_("alice")
    m1 = (await alice.subscribe("m1"))["subscription"]
    m2 = (await alice.subscribe("m2"))["subscription"]
    await alice.create_key(["m1", "m2"])
    await desk.as_("root").data(documents.SUBSCRIPTION_SUSPEND, id=m1["id"])

    cancelled = await desk.as_("alice").cancel(m2["id"])
    cancel_suspended = await desk.as_("alice").cancel(m1["id"])

    assert cancelled["__typename"] == "SubscriptionCancelSuccess"
    # m2 left the key and m1 is suspended: blocked, never given m1 back nor emptied.
    [key] = emulator.keys.values()
    assert (key.models, key.blocked) == (("m2",), True)
    assert cancel_suspended["code"] == "INVALID_STATE_TRANSITION"


async def test_user_update_with_litellm_failing_midway_changes_nothing_on_either_side(
    desk: Desk, network: FlakyNetwork, emulator: LiteLLMEmulator, db_engine: AsyncEngine
) -> None:
    alice = desk.as_("alice")
    await alice.subscribe("m1")
    await alice.create_key(["m1"], name="one")
    await alice.create_key(["m1"], name="two")
    network.fail_path, network.fail_at = "/key/block", 2
    alice_id = desk.ids["alice"]

    result = await desk.as_("root").data(
        documents.USER_UPDATE, id=alice_id, input={"rpmLimit": 5, "active": False}
    )
    in_litellm = emulator.users[alice_id]
    still_signed_in = await desk.as_("alice").data(documents.ME)

    assert result["userUpdate"]["code"] == "LITELLM_UNAVAILABLE"
    assert network.seen.count("/user/update") == 2  # the change, then its undoing
    assert in_litellm.rpm_limit == 120
    assert [bool(k.blocked) for k in emulator.keys.values()] == [False, False]
    assert still_signed_in["me"]["id"] == alice_id
    async with AsyncSession(db_engine) as db:
        user = await db.get(User, uuid.UUID(alice_id))
        updates = (
            await db.exec(select(AuditEvent).where(AuditEvent.action == "user.update"))
        ).all()
    assert user is not None
    assert (user.rpm_limit, user.is_active) == (120, True)
    assert updates == []


async def test_admin_actions_are_audited_without_secrets(
    desk: Desk, db_engine: AsyncEngine
) -> None:
    alice = desk.as_("alice")
    subscription = (await alice.subscribe("m1"))["subscription"]
    created = await alice.create_key(["m1"])
    root = desk.as_("root")
    await root.data(documents.MODEL_UPDATE, id="m2", input={"description": "big", "reason": "r1"})
    await root.data(documents.SUBSCRIPTION_SUSPEND, id=subscription["id"], reason="r2")
    await root.data(documents.SUBSCRIPTION_REACTIVATE, id=subscription["id"], reason="r3")
    await root.data(documents.USER_UPDATE, id=desk.ids["alice"], input={"tpmLimit": 7})
    await root.data(documents.USER_SYNC_RETRY, id=desk.ids["alice"])
    revoked = await root.revoke(created["apiKey"]["id"])

    events = (
        await root.data(documents.AUDIT_EVENTS, filter={"actorId": desk.ids["root"]}, first=20)
    )["auditEvents"]
    by_action = {e["node"]["action"]: e["node"] for e in events["edges"]}

    assert revoked["apiKey"]["status"] == "REVOKED"
    assert {
        "model.update",
        "subscription.suspend",
        "subscription.reactivate",
        "user.update",
        "user.sync_retry",
        "api_key.revoke",
    } <= set(by_action)
    assert by_action["model.update"]["details"]["before"]["description"] is None
    assert by_action["model.update"]["details"]["after"]["description"] == "big"
    suspend = by_action["subscription.suspend"]
    assert suspend["subjectId"] == subscription["id"]
    assert (suspend["details"]["before"], suspend["details"]["after"]) == ("active", "suspended")
    assert suspend["details"]["reason"] == "r2"
    assert by_action["api_key.revoke"]["details"] == {"owner_id": desk.ids["alice"]}
    async with AsyncSession(db_engine) as db:
        stored = orjson.dumps([e.details for e in (await db.exec(select(AuditEvent))).all()])
    assert created["secret"].encode() not in stored
    assert b"sk-" not in stored


async def test_restricting_a_model_keeps_its_active_subscriptions_and_says_how_many(
    desk: Desk,
) -> None:
    await desk.as_("alice").subscribe("m1")

    result = (
        await desk.as_("root").data(
            documents.MODEL_UPDATE, id="m1", input={"restrictedAccess": True}
        )
    )["modelUpdate"]
    await desk.sign_in("bob")
    bobs = await desk.as_("bob").subscribe("m1")
    alices = (await desk.as_("alice").data(documents.SUBSCRIPTIONS))["subscriptions"]

    assert result["activeSubscriptionsKept"] == 1
    assert result["model"]["restrictedAccess"] is True
    assert bobs["subscription"]["status"] == "PENDING"
    assert [s["status"] for s in alices] == ["ACTIVE"]


async def _all_pages(
    portal: Portal, resources: Resources, document: str, field: str, **variables: Any
) -> tuple[list[dict[str, Any]], list[int], int]:
    """Every node of a list, page by page; the statements each page cost, and the total."""
    nodes: list[dict[str, Any]] = []
    costs: list[int] = []
    after = None
    while True:
        with counted_statements(resources) as statements:
            page = (await portal.data(document, after=after, **variables))[field]
        costs.append(len(statements))
        nodes.extend(edge["node"] for edge in page["edges"])
        if not page["pageInfo"]["hasNextPage"]:
            return nodes, costs, page["totalCount"]
        after = page["pageInfo"]["endCursor"]


async def test_paging_through_1000_users_returns_each_exactly_once_in_3_statements_a_page(
    desk: Desk, db_engine: AsyncEngine, resources: Resources
) -> None:
    added = await _add_users(db_engine, 1000, "member")

    nodes, costs, total = await _all_pages(
        desk.as_("root"), resources, documents.USER_LIST, "users", first=97
    )
    filtered, _, filtered_total = await _all_pages(
        desk.as_("root"),
        resources,
        documents.USER_LIST,
        "users",
        first=50,
        filter={"search": "MEMBER-00", "active": True, "syncStatus": "PENDING"},
    )

    ids = [n["id"] for n in nodes]
    assert total == len(ids) == 1002  # with root and alice
    assert len(set(ids)) == len(ids)
    assert {str(i) for i in added} <= set(ids)
    assert [n["username"] for n in nodes] == sorted(n["username"] for n in nodes)
    assert max(costs) <= 3, costs
    assert filtered_total == len(filtered) == 100


async def test_the_approval_queue_and_the_audit_list_cost_3_statements_whatever_their_size(
    desk: Desk, db_engine: AsyncEngine, resources: Resources
) -> None:
    user_ids = await _add_users(db_engine, 60, "queued")
    async with AsyncSession(db_engine) as db:
        db.add_all(
            Subscription(user_id=u, model_id=m, status=SubscriptionStatus.PENDING)
            for u in user_ids
            for m in ("m1", "m2")
        )
        await db.commit()
    root = desk.as_("root")

    queue, queue_costs, queue_total = await _all_pages(
        root, resources, documents.SUBSCRIPTION_REQUESTS, "subscriptionRequests", first=50
    )
    events, audit_costs, _ = await _all_pages(
        root, resources, documents.AUDIT_EVENTS, "auditEvents", first=1
    )

    assert queue_total == len(queue) == 120
    assert len({n["id"] for n in queue}) == 120
    assert all(n["user"]["username"].startswith("queued-") for n in queue)
    assert max(queue_costs) <= 3, queue_costs
    assert len(events) >= 2
    assert max(audit_costs) <= 3, audit_costs
