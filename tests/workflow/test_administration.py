"""Administration against the emulator and both real LiteLLM releases: restricted models and
their approval, suspension at the proxy, deactivation, and the audit trail of it all."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from app.auth.session import SESSION_COOKIE
from app.services import safety
from tests import documents
from tests.portal import Portal
from tests.workflow.conftest import Stack, assert_model_refused


class Desk:
    """One browser shared by a user and an administrator, switching session cookies."""

    def __init__(self, portal: Portal) -> None:
        self.portal = portal
        self.sessions: dict[str, str] = {}
        self.ids: dict[str, str] = {}

    async def sign_in(self, who: str, *, admin: bool = False) -> str:
        groups = ["litemaas-admins"] if admin else []
        self.portal.client.cookies.clear()
        # A real proxy keeps its users across runs: a fresh name (and e-mail address) each time.
        self.ids[who] = await self.portal.login(f"{who}-{uuid.uuid4().hex[:10]}", groups=groups)
        self.sessions[who] = self.portal.client.cookies[SESSION_COOKIE]
        return self.ids[who]

    def as_(self, who: str) -> Portal:
        self.portal.client.cookies.clear()
        self.portal.client.cookies.set(SESSION_COOKIE, self.sessions[who])
        return self.portal


async def _checks(client: httpx.AsyncClient, secret: str, model: str) -> tuple[Any, ...]:
    """`modelAccess` and `/authz` for the model: what the BFF says of the key."""
    headers = {"Authorization": f"Bearer {secret}"}
    graphql = await client.post(
        "/graphql",
        json={"query": documents.MODEL_ACCESS, "variables": {"model": model}},
        headers=headers,
    )
    authz = await client.get("/authz", params={"model": model}, headers=headers)
    return graphql.json()["data"]["modelAccess"]["__typename"], authz.status_code


async def _desk(stack: Stack) -> Desk:
    desk = Desk(stack.portal)
    await desk.sign_in("root", admin=True)
    await desk.sign_in("alice")
    return desk


async def _restrict(desk: Desk, model: str, restricted: bool = True) -> dict[str, Any]:
    result: dict[str, Any] = (
        await desk.as_("root").data(
            documents.MODEL_UPDATE,
            id=model,
            input={"restrictedAccess": restricted, "reason": "licence review"},
        )
    )["modelUpdate"]
    return result


async def _decide(desk: Desk, document: str, field: str, **variables: Any) -> dict[str, Any]:
    result: dict[str, Any] = (await desk.as_("root").data(document, **variables))[field]
    return result


async def test_a_restricted_models_request_waits_for_approval_then_its_key_works_at_the_proxy(
    stack: Stack,
) -> None:
    desk = await _desk(stack)
    restricted = await _restrict(desk, "m1")
    alice = desk.as_("alice")
    requested = (await alice.subscribe("m1"))["subscription"]
    refused = await alice.create_key(["m1"])

    approved = await _decide(
        desk,
        documents.SUBSCRIPTION_APPROVE,
        "subscriptionApprove",
        ids=[requested["id"]],
        reason="project X",
    )
    created = await desk.as_("alice").create_key(["m1"])
    chat = await stack.chat(created["secret"], "m1")

    assert restricted["__typename"] == "ModelUpdateSuccess"
    assert restricted["model"]["restrictedAccess"] is True
    assert requested["status"] == "PENDING"
    assert refused["code"] == "MODEL_ACCESS_DENIED"
    assert approved["succeeded"] == 1
    assert approved["outcomes"][0]["result"]["subscription"]["status"] == "ACTIVE"
    assert created["__typename"] == "ApiKeyCreateSuccess"
    assert chat.status_code == 200, chat.text


async def test_a_denied_request_gives_no_key(stack: Stack) -> None:
    desk = await _desk(stack)
    await _restrict(desk, "m1")
    requested = (await desk.as_("alice").subscribe("m1"))["subscription"]

    denied = await _decide(
        desk,
        documents.SUBSCRIPTION_DENY,
        "subscriptionDeny",
        ids=[requested["id"]],
        reason="no budget",
    )
    refused = await desk.as_("alice").create_key(["m1"])
    queue = await desk.as_("root").data(documents.SUBSCRIPTION_REQUESTS, userId=desk.ids["alice"])

    assert denied["outcomes"][0]["result"]["subscription"]["status"] == "DENIED"
    assert refused["__typename"] == "ModelAccessDeniedError"
    assert refused["code"] == "MODEL_ACCESS_DENIED"
    [edge] = queue["subscriptionRequests"]["edges"]
    assert [(h["from"], h["to"], h["reason"]) for h in edge["node"]["history"]] == [
        (None, "PENDING", None),
        ("PENDING", "DENIED", "no budget"),
    ]
    assert edge["node"]["history"][1]["actorId"] == desk.ids["root"]


async def test_a_suspended_single_model_key_reaches_no_model_until_reactivated(
    stack: Stack,
) -> None:
    desk = await _desk(stack)
    alice = desk.as_("alice")
    subscription = (await alice.subscribe("m1"))["subscription"]
    await alice.subscribe("m2")
    secret = (await alice.create_key(["m1"]))["secret"]
    assert (await stack.chat(secret, "m1")).status_code == 200

    suspended = await _decide(
        desk,
        documents.SUBSCRIPTION_SUSPEND,
        "subscriptionSuspend",
        id=subscription["id"],
        reason="incident",
    )
    # LiteLLM reads an empty model list as every model: the key is blocked instead.
    while_suspended = [(await stack.chat(secret, m)).status_code for m in ("m1", "m2")]
    checks_while_suspended = await _checks(stack.portal.client, secret, "m1")
    recreated = await desk.as_("alice").create_key(["m1"])
    resubscribed = await desk.as_("alice").subscribe("m1")

    reactivated = await _decide(
        desk,
        documents.SUBSCRIPTION_REACTIVATE,
        "subscriptionReactivate",
        id=subscription["id"],
    )
    after = await stack.chat(secret, "m1")

    assert suspended["subscription"]["status"] == "SUSPENDED"
    assert while_suspended == [401, 401]
    assert checks_while_suspended == ("ModelAccessDeniedError", 403)
    assert recreated["code"] == "MODEL_ACCESS_DENIED"
    assert resubscribed["code"] == "ALREADY_SUBSCRIBED"  # a suspension is the admin's to lift
    assert reactivated["subscription"]["status"] == "ACTIVE"
    assert after.status_code == 200, after.text
    assert await _checks(stack.portal.client, secret, "m1") == ("ModelAccessGranted", 200)


async def test_suspending_one_model_of_a_two_model_key_narrows_it_at_the_proxy(
    stack: Stack,
) -> None:
    desk = await _desk(stack)
    alice = desk.as_("alice")
    subscription = (await alice.subscribe("m1"))["subscription"]
    await alice.subscribe("m2")
    secret = (await alice.create_key(["m1", "m2"]))["secret"]

    await _decide(
        desk, documents.SUBSCRIPTION_SUSPEND, "subscriptionSuspend", id=subscription["id"]
    )
    m1_while, m2_while = await stack.chat(secret, "m1"), await stack.chat(secret, "m2")
    checks_while = await _checks(stack.portal.client, secret, "m1")
    await _decide(
        desk, documents.SUBSCRIPTION_REACTIVATE, "subscriptionReactivate", id=subscription["id"]
    )
    m1_after = await stack.chat(secret, "m1")

    assert_model_refused(m1_while)
    assert m2_while.status_code == 200
    assert checks_while == ("ModelAccessDeniedError", 403)
    assert m1_after.status_code == 200, m1_after.text


async def test_the_reconciler_takes_a_suspended_model_off_a_key_the_proxy_still_gives_it(
    stack: Stack,
) -> None:
    desk = await _desk(stack)
    alice = desk.as_("alice")
    subscription = (await alice.subscribe("m1"))["subscription"]
    await alice.subscribe("m2")
    await alice.create_key(["m2"], name="other")
    secret = (await alice.create_key(["m1", "m2"], name="both"))["secret"]
    await _decide(
        desk, documents.SUBSCRIPTION_SUSPEND, "subscriptionSuspend", id=subscription["id"]
    )
    # What a creation or update racing the suspension leaves: the proxy gives the key m1 again.
    await stack.resources.litellm.key_set_models(key=secret, models=["m1", "m2"])
    m1_raced = await stack.chat(secret, "m1")

    report = await stack.resources.reconciler.run()
    m1_after, m2_after = await stack.chat(secret, "m1"), await stack.chat(secret, "m2")

    assert m1_raced.status_code == 200, m1_raced.text
    assert_model_refused(m1_after)
    assert m2_after.status_code == 200, m2_after.text
    assert report.keys_narrowed == 1, report
    assert safety.HoldKind.NARROW_KEYS not in report.held


async def test_renaming_or_rotating_a_key_gives_the_proxy_no_suspended_model(
    stack: Stack,
) -> None:
    desk = await _desk(stack)
    alice = desk.as_("alice")
    subscription = (await alice.subscribe("m1"))["subscription"]
    await alice.subscribe("m2")
    both = (await alice.create_key(["m1", "m2"], name="both"))["apiKey"]["id"]
    only = (await alice.create_key(["m1"], name="only"))["apiKey"]["id"]
    await _decide(
        desk, documents.SUBSCRIPTION_SUSPEND, "subscriptionSuspend", id=subscription["id"]
    )

    alice = desk.as_("alice")
    secrets: dict[str, str] = {}
    for key_id in (both, only):
        await alice.data(documents.API_KEY_UPDATE, id=key_id, input={"name": "renamed"})
        rotated = await alice.data(
            documents.API_KEY_ROTATE, id=key_id, input={"gracePeriodSeconds": 0}
        )
        secrets[key_id] = rotated["apiKeyRotate"]["secret"]
    both_m1, both_m2 = [await stack.chat(secrets[both], m) for m in ("m1", "m2")]
    only_m1 = await stack.chat(secrets[only], "m1")

    assert_model_refused(both_m1)
    assert both_m2.status_code == 200, both_m2.text
    assert only_m1.status_code == 401, only_m1.text  # blocked, as its old secret was


async def test_a_deactivated_users_key_is_refused_by_the_proxy_and_authz_until_reactivated(
    stack: Stack,
) -> None:
    desk = await _desk(stack)
    alice = desk.as_("alice")
    await alice.subscribe("m1")
    secret = (await alice.create_key(["m1"]))["secret"]

    deactivated = await _decide(
        desk,
        documents.USER_UPDATE,
        "userUpdate",
        id=desk.ids["alice"],
        input={"active": False, "reason": "left the company"},
    )
    chat_while = await stack.chat(secret, "m1")
    authz_while = await stack.portal.client.get(
        "/authz", params={"model": "m1"}, headers={"Authorization": f"Bearer {secret}"}
    )
    alice_session = await desk.as_("alice").gql(documents.ME)
    reactivated = await _decide(
        desk, documents.USER_UPDATE, "userUpdate", id=desk.ids["alice"], input={"active": True}
    )

    assert deactivated["user"]["active"] is False
    assert chat_while.status_code == 401
    assert authz_while.status_code == 401
    assert alice_session == {"data": {"me": None}}
    assert reactivated["user"]["active"] is True
    assert (await stack.chat(secret, "m1")).status_code == 200


async def test_new_limits_reach_litellm_and_the_audit_trail(stack: Stack) -> None:
    desk = await _desk(stack)

    updated = await _decide(
        desk,
        documents.USER_UPDATE,
        "userUpdate",
        id=desk.ids["alice"],
        input={"maxBudget": 42.5, "tpmLimit": 4200, "rpmLimit": 42, "reason": "pilot"},
    )
    in_litellm = await stack.resources.litellm.user_info(desk.ids["alice"])
    events = await desk.as_("root").data(
        documents.AUDIT_EVENTS, filter={"subjectId": desk.ids["alice"], "action": "user.update"}
    )

    assert updated["__typename"] == "UserUpdateSuccess"
    assert (updated["user"]["maxBudget"], updated["user"]["rpmLimit"]) == (42.5, 42)
    assert (in_litellm.max_budget, in_litellm.tpm_limit, in_litellm.rpm_limit) == (42.5, 4200, 42)
    [edge] = events["auditEvents"]["edges"]
    event = edge["node"]
    assert event["actorId"] == desk.ids["root"]
    assert event["details"]["before"]["rpm_limit"] == 120
    assert event["details"]["after"]["rpm_limit"] == 42
    assert event["details"]["reason"] == "pilot"
