"""Reads: the catalogue with the caller's subscription, key lists in constant SQL, isolation."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy import event

from app.db.engine import create_session_factory
from app.main import create_app
from app.resources import Resources
from app.settings import Settings
from litellm_emulator import LiteLLMEmulator
from tests import documents
from tests.conftest import serve
from tests.portal import Portal


@contextmanager
def counted_statements(resources: Resources) -> Iterator[list[str]]:
    """The SQL sent through SQLAlchemy (engine listener) and by the reader (asyncpg `fetch`)."""
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    fetch = asyncpg.Connection.fetch

    async def counted_fetch(
        self: asyncpg.Connection[Any], query: str, *args: Any, **kwargs: Any
    ) -> Any:
        statements.append(query)
        return await fetch(self, query, *args, **kwargs)

    engine = resources.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    asyncpg.Connection.fetch = counted_fetch
    try:
        yield statements
    finally:
        asyncpg.Connection.fetch = fetch
        event.remove(engine, "before_cursor_execute", count)


async def test_api_keys_costs_the_same_statements_for_1_and_50_keys(
    settings: Settings, emulator: LiteLLMEmulator
) -> None:
    roomy = settings.model_copy(update={"max_active_keys_per_user": 60})
    app = create_app(roomy, litellm_transport=httpx.ASGITransport(app=emulator.app))
    resources: Resources = app.state.resources
    async with serve(app) as client:
        portal = Portal(client)
        await portal.login()
        await portal.subscribe("m1")
        await portal.subscribe("m2")
        await portal.create_key(["m1"], name="first")
        with counted_statements(resources) as one_key:
            keys = await portal.keys()
        assert len(keys) == 1
        for i in range(49):
            await portal.create_key(["m1"] if i % 2 else ["m1", "m2"], name=f"key {i}")
        with counted_statements(resources) as fifty_keys:
            keys = await portal.keys()

    assert len(keys) == 50
    assert sum(len(k["modelAccess"]) for k in keys) == 75
    # The keys with their models, the session checked in the same statement.
    assert len(one_key) == len(fifty_keys) == 1, fifty_keys


async def test_me_reads_the_signed_in_user_once(
    portal: Portal, resources: Resources, emulator: LiteLLMEmulator
) -> None:
    await portal.login(username="ada")
    with counted_statements(resources) as statements:
        me = (await portal.data(documents.ME))["me"]
    assert me["username"] == "ada"
    assert len(statements) == 1, statements


async def test_a_created_key_comes_with_its_models_in_the_answer(
    portal: Portal, resources: Resources, emulator: LiteLLMEmulator
) -> None:
    await portal.login()
    await portal.subscribe("m1")
    await portal.subscribe("m2")
    with counted_statements(resources) as statements:
        created = await portal.create_key(["m2", "m1"], name="both")
    assert [m["id"] for m in created["apiKey"]["modelAccess"]] == ["m1", "m2"]
    # The key with its models is read once, by the service, after it is activated.
    listing_reads = [s for s in statements if "api_key_models" in s and "SELECT" in s.upper()]
    assert len(listing_reads) == 1, listing_reads


async def test_models_show_the_callers_subscription(
    portal: Portal, emulator: LiteLLMEmulator
) -> None:
    anonymous = (await portal.data(documents.MODELS))["models"]
    assert [(m["id"], m["subscription"]) for m in anonymous] == [("m1", None), ("m2", None)]

    await portal.login()
    await portal.subscribe("m2")
    models = (await portal.data(documents.MODELS))["models"]

    assert [(m["id"], m["subscription"] and m["subscription"]["status"]) for m in models] == [
        ("m1", None),
        ("m2", "ACTIVE"),
    ]


async def test_model_ids_with_slashes_round_trip(
    portal: Portal, emulator: LiteLLMEmulator, resources: Resources
) -> None:
    from app.services import catalog

    emulator.add_model("ollama/llama2")
    await catalog.sync_models(
        models=resources.catalogue, litellm=resources.litellm, valve=resources.valve
    )
    await portal.login()

    model = (await portal.data(documents.MODEL, id="ollama/llama2"))["model"]
    subscribed = await portal.subscribe("ollama/llama2")
    created = await portal.create_key(["ollama/llama2"])

    assert (model["id"], model["name"]) == ("ollama/llama2", "ollama/llama2")
    assert subscribed["subscription"]["model"]["id"] == "ollama/llama2"
    assert [m["id"] for m in created["apiKey"]["modelAccess"]] == ["ollama/llama2"]
    secret = created["secret"]
    authz = await portal.client.get(
        "/authz", params={"model": "ollama/llama2"}, headers={"Authorization": f"Bearer {secret}"}
    )
    assert authz.status_code == 200


async def test_users_see_and_touch_only_their_own(app: Any, emulator: LiteLLMEmulator) -> None:
    async with serve(app) as alice_client, serve(app) as bob_client:
        alice, bob = Portal(alice_client), Portal(bob_client)
        await alice.login("alice")
        await bob.login("bob")
        alice_sub = (await alice.subscribe("m1"))["subscription"]
        alice_key = (await alice.create_key(["m1"]))["apiKey"]

        assert await bob.keys() == []
        assert (await bob.data(documents.SUBSCRIPTIONS))["subscriptions"] == []
        assert (await bob.data(documents.API_KEY, id=alice_key["id"]))["apiKey"] is None
        revoke = await bob.revoke(alice_key["id"])
        cancel = await bob.cancel(alice_sub["id"])

        assert (revoke["__typename"], revoke["code"]) == ("NotFoundError", "NOT_FOUND")
        assert (cancel["__typename"], cancel["code"]) == ("NotFoundError", "NOT_FOUND")
        [still_active] = await alice.keys()
        assert still_active["status"] == "ACTIVE"
        assert [
            s["status"] for s in (await alice.data(documents.SUBSCRIPTIONS))["subscriptions"]
        ] == ["ACTIVE"]


@pytest.mark.parametrize(
    ("document", "variables"),
    [
        (documents.SUBSCRIPTIONS, {}),
        (documents.API_KEYS, {}),
        (documents.API_KEY, {"id": "00000000-0000-0000-0000-000000000000"}),
        (documents.SUBSCRIPTION_CREATE, {"modelId": "m1"}),
        (documents.SUBSCRIPTION_CANCEL, {"id": "x"}),
        (documents.API_KEY_CREATE, {"input": {"name": "k", "modelIds": ["m1"]}}),
        (documents.API_KEY_REVOKE, {"id": "x"}),
        (documents.LITELLM_SYNC_RETRY, {}),
    ],
)
async def test_anonymous_callers_get_unauthenticated(
    portal: Portal, document: str, variables: dict[str, Any]
) -> None:
    body = await portal.gql(document, **variables)

    assert not any((body["data"] or {}).values())
    assert [e["extensions"]["code"] for e in body["errors"]] == ["UNAUTHENTICATED"]


@pytest.mark.parametrize(
    ("request_input", "field"),
    [
        ({"name": " ", "modelIds": ["m1"]}, "name"),
        ({"name": "k", "modelIds": []}, "modelIds"),
        ({"name": "k", "modelIds": ["m1", "m1"]}, "modelIds"),
        ({"name": "k", "modelIds": ["m1"], "expiresAt": "2001-01-01T00:00:00+00:00"}, "expiresAt"),
        ({"name": "k", "modelIds": ["m1"], "maxBudget": -1}, "maxBudget"),
    ],
)
async def test_bad_key_input_is_validation_failed(
    portal: Portal, emulator: LiteLLMEmulator, request_input: dict[str, Any], field: str
) -> None:
    await portal.login()
    await portal.subscribe("m1")

    result = (await portal.data(documents.API_KEY_CREATE, input=request_input))["apiKeyCreate"]

    assert (result["__typename"], result["code"], result["field"]) == (
        "ValidationError",
        "VALIDATION_FAILED",
        field,
    )
    assert emulator.keys == {}


async def test_key_limit_is_enforced(settings: Settings, emulator: LiteLLMEmulator) -> None:
    tight = settings.model_copy(update={"max_active_keys_per_user": 2})
    app = create_app(tight, litellm_transport=httpx.ASGITransport(app=emulator.app))
    async with serve(app) as client:
        portal = Portal(client)
        await portal.login()
        await portal.subscribe("m1")
        first = await portal.create_key(["m1"])
        await portal.create_key(["m1"])

        refused = await portal.create_key(["m1"])
        await portal.revoke(first["apiKey"]["id"])
        after_revoke = await portal.create_key(["m1"])

    assert (refused["__typename"], refused["code"]) == ("KeyLimitReachedError", "KEY_LIMIT_REACHED")
    assert after_revoke["__typename"] == "ApiKeyCreateSuccess"
    assert len(emulator.keys) == 2


async def test_subscribing_to_an_unknown_model_is_not_found(portal: Portal) -> None:
    await portal.login()

    result = await portal.subscribe("no-such-model")

    assert (result["__typename"], result["code"]) == ("NotFoundError", "NOT_FOUND")


async def test_restricted_models_start_pending_and_cannot_go_on_keys(
    portal: Portal, resources: Resources
) -> None:
    from app.db.models import Model

    async with create_session_factory(resources.engine)() as session:
        model = await session.get(Model, "m2")
        assert model is not None
        model.restricted_access = True
        await session.commit()
    await portal.login()

    subscribed = await portal.subscribe("m2")
    created = await portal.create_key(["m2"])

    assert subscribed["subscription"]["status"] == "PENDING"
    assert (created["__typename"], created["modelIds"]) == ("ModelAccessDeniedError", ["m2"])


async def test_concurrent_creations_cannot_exceed_the_key_limit(
    settings: Settings, emulator: LiteLLMEmulator
) -> None:
    tight = settings.model_copy(update={"max_active_keys_per_user": 3})
    app = create_app(tight, litellm_transport=httpx.ASGITransport(app=emulator.app))
    async with serve(app) as client:
        portal = Portal(client)
        await portal.login()
        await portal.subscribe("m1")
        emulator.faults.latency = 0.01

        results = await asyncio.gather(*(portal.create_key(["m1"], name=f"k{i}") for i in range(8)))

    outcomes = sorted(r["__typename"] for r in results)
    assert outcomes == ["ApiKeyCreateSuccess"] * 3 + ["KeyLimitReachedError"] * 5
    assert len(emulator.keys) == 3


OTHERS = """
query Others($userId: ID!) {
  apiKeys(userId: $userId) { id status }
  subscriptions(userId: $userId) { id status }
}
"""


@pytest.mark.parametrize("group", ["litemaas-admins", "litemaas-readonly"])
async def test_admins_may_read_another_users_keys_and_subscriptions(app: Any, group: str) -> None:
    async with serve(app) as alice_client, serve(app) as admin_client:
        alice, admin = Portal(alice_client), Portal(admin_client)
        alice_id = await alice.login("alice")
        await admin.login("root", groups=[group])
        sub = (await alice.subscribe("m1"))["subscription"]
        key = (await alice.create_key(["m1"]))["apiKey"]

        seen = await admin.data(OTHERS, userId=alice_id)
        revoke = await admin.revoke(key["id"])

    assert seen == {
        "apiKeys": [{"id": key["id"], "status": "ACTIVE"}],
        "subscriptions": [{"id": sub["id"], "status": "ACTIVE"}],
    }
    if group == "litemaas-admins":  # an administrator may revoke anyone's key
        assert revoke["__typename"] == "ApiKeyRevokeSuccess"
        assert revoke["apiKey"]["status"] == "REVOKED"
    else:  # reading is all a read-only administrator may do with others' keys
        assert revoke["code"] == "NOT_FOUND"


async def test_a_user_naming_another_user_is_forbidden(app: Any) -> None:
    async with serve(app) as alice_client, serve(app) as bob_client:
        alice, bob = Portal(alice_client), Portal(bob_client)
        alice_id = await alice.login("alice")
        bob_id = await bob.login("bob")
        await alice.subscribe("m1")

        other = await bob.gql(OTHERS, userId=alice_id)
        own = await bob.data(OTHERS, userId=bob_id)

    assert other["data"] is None
    assert {e["extensions"]["code"] for e in other["errors"]} == {"FORBIDDEN"}
    assert own == {"apiKeys": [], "subscriptions": []}


SUBSCRIPTION_EVERYWHERE = """
query Everywhere($id: ID!, $userId: ID) {
  model(id: $id) { ...Mine }
  apiKeys { modelAccess { id ... on Model { mine: subscription { id model { id } } } } }
  subscriptions(userId: $userId) { id model { ...ThroughAnother } }
}
fragment Mine on Model { subscription { id status } }
fragment ThroughAnother on Model { id ...Mine }
"""


async def test_every_model_shows_the_callers_subscription_wherever_it_is_selected(
    app: Any,
) -> None:
    async with serve(app) as alice_client, serve(app) as admin_client:
        alice, admin = Portal(alice_client), Portal(admin_client)
        alice_id = await alice.login("alice")
        await admin.login("root", groups=["litemaas-admins"])
        mine = (await alice.subscribe("m1"))["subscription"]["id"]
        await alice.create_key(["m1"])
        await admin.subscribe("m2")

        seen = await alice.data(SUBSCRIPTION_EVERYWHERE, id="m1")
        by_admin = await admin.data(SUBSCRIPTION_EVERYWHERE, id="m1", userId=alice_id)

    assert seen == {
        "model": {"subscription": {"id": mine, "status": "ACTIVE"}},
        "apiKeys": [{"modelAccess": [{"id": "m1", "mine": {"id": mine, "model": {"id": "m1"}}}]}],
        "subscriptions": [
            {"id": mine, "model": {"id": "m1", "subscription": {"id": mine, "status": "ACTIVE"}}}
        ],
    }
    # The caller's subscription, not the listed user's: the admin has none to m1.
    assert by_admin == {
        "model": {"subscription": None},
        "apiKeys": [],
        "subscriptions": [{"id": mine, "model": {"id": "m1", "subscription": None}}],
    }


KEYS_WITH_SUBSCRIPTIONS = """
{ apiKeys { id modelAccess { id subscription { status } } } }
"""


async def test_the_callers_subscriptions_cost_one_statement_and_only_when_selected(
    portal: Portal, resources: Resources, emulator: LiteLLMEmulator
) -> None:
    await portal.login()
    await portal.subscribe("m1")
    await portal.subscribe("m2")
    for models in (["m1"], ["m2"], ["m1", "m2"]):
        await portal.create_key(models)

    with counted_statements(resources) as without:
        await portal.keys()
    with counted_statements(resources) as selected:
        keys = (await portal.data(KEYS_WITH_SUBSCRIPTIONS))["apiKeys"]

    assert {m["subscription"]["status"] for k in keys for m in k["modelAccess"]} == {"ACTIVE"}
    assert sum(len(k["modelAccess"]) for k in keys) == 4
    # The keys with their models (the session checked with them), then the caller's
    # subscriptions.
    assert (len(without), len(selected)) == (1, 2), selected
