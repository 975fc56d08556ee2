"""The BFF's LiteLLMClient against every target: each answer mapped to the right value or error."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from app.litellm.breaker import CircuitBreaker
from app.litellm.client import LiteLLMClient
from app.litellm.errors import LiteLLMConflict, LiteLLMNotFound, LiteLLMRejected
from app.litellm.monitor import LiteLLMMonitor
from app.metrics import Metrics
from tests.contract.conftest import MODEL_COSTS, Proxy, Target, bearer

pytestmark = pytest.mark.contract


async def test_user_info_of_an_unknown_user_is_not_found(
    litellm_client: LiteLLMClient, proxy: Proxy
) -> None:
    # 404 from 1.108.7, a 200 stub from 1.80.7: the same error either way.
    with pytest.raises(LiteLLMNotFound):
        await litellm_client.user_info(proxy.new_user_id())


async def test_user_info_of_a_user_with_keys_but_no_row_is_not_found(
    litellm_client: LiteLLMClient, proxy: Proxy
) -> None:
    generated = await proxy.key_generate(models=["m1"])

    with pytest.raises(LiteLLMNotFound):
        await litellm_client.user_info(generated["user_id"])


async def test_user_new_then_user_info(litellm_client: LiteLLMClient, proxy: Proxy) -> None:
    user_id = proxy.new_user_id()

    created = await litellm_client.user_new(
        user_id=user_id,
        user_email=f"{user_id}@example.com",
        user_alias="Client User",
        max_budget=100,
        tpm_limit=100_000,
        rpm_limit=120,
    )
    found = await litellm_client.user_info(user_id)

    assert created == found
    assert found.user_id == user_id
    assert found.user_email == f"{user_id}@example.com"
    assert found.user_alias == "Client User"
    assert (found.max_budget, found.tpm_limit, found.rpm_limit) == (100.0, 100_000, 120)


async def test_a_duplicate_user_id_is_a_conflict_or_changes_nothing(
    litellm_client: LiteLLMClient, proxy: Proxy
) -> None:
    user_id = proxy.new_user_id()
    fields = {"user_email": None, "user_alias": None, "tpm_limit": None, "rpm_limit": None}
    await litellm_client.user_new(user_id=user_id, max_budget=10, **fields)

    if proxy.current:
        with pytest.raises(LiteLLMConflict) as conflict:
            await litellm_client.user_new(user_id=user_id, max_budget=99, **fields)
        assert conflict.value.status == 409
    else:
        # 1.80.7 answers 200, echoing the request: undetectable, so it reads as success.
        echoed = await litellm_client.user_new(user_id=user_id, max_budget=99, **fields)
        assert echoed.user_id == user_id
    assert (await litellm_client.user_info(user_id)).max_budget == 10.0


async def test_a_duplicate_email_is_a_conflict(litellm_client: LiteLLMClient, proxy: Proxy) -> None:
    email = f"{proxy.new_user_id()}@example.com"
    fields = {"user_alias": None, "max_budget": None, "tpm_limit": None, "rpm_limit": None}
    await litellm_client.user_new(user_id=proxy.new_user_id(), user_email=email, **fields)

    with pytest.raises(LiteLLMConflict):
        await litellm_client.user_new(user_id=proxy.new_user_id(), user_email=email, **fields)


async def test_user_update_of_an_unknown_user_creates_it(
    litellm_client: LiteLLMClient, proxy: Proxy
) -> None:
    user_id = proxy.new_user_id()

    updated = await litellm_client.user_update(user_id=user_id, max_budget=5)

    assert updated.user_id == user_id
    assert (await litellm_client.user_info(user_id)).max_budget == 5.0


async def test_user_update_changes_the_limits_an_administrator_sets(
    litellm_client: LiteLLMClient, proxy: Proxy
) -> None:
    created = await proxy.user_new(max_budget=10, tpm_limit=1000, rpm_limit=10)
    user_id = created["user_id"]

    updated = await litellm_client.user_update(
        user_id=user_id, max_budget=25.5, tpm_limit=2000, rpm_limit=20
    )
    # Undoing a change sends the earlier values back.
    await litellm_client.user_update(user_id=user_id, rpm_limit=10)
    stored = await litellm_client.user_info(user_id)

    assert (updated.max_budget, updated.tpm_limit, updated.rpm_limit) == (25.5, 2000, 20)
    assert (stored.max_budget, stored.tpm_limit, stored.rpm_limit) == (25.5, 2000, 10)


async def test_key_generate_gives_the_secret_and_its_token(
    litellm_client: LiteLLMClient, proxy: Proxy
) -> None:
    user_id = proxy.new_user_id()
    alias = f"alias-{user_id}"

    generated = await litellm_client.key_generate(
        key_alias=alias, user_id=user_id, models=["m1", "m2"], duration="30d"
    )

    assert generated.key.startswith("sk-")
    assert generated.key not in repr(generated)
    assert generated.token == hashlib.sha256(generated.key.encode()).hexdigest()
    assert generated.key_alias == alias
    assert generated.models == ("m1", "m2")
    assert generated.expires is not None
    assert generated.expires.tzinfo is not None
    assert datetime.now(UTC) < generated.expires <= datetime.now(UTC) + timedelta(days=31)


async def test_a_duplicate_key_alias_is_a_conflict(
    litellm_client: LiteLLMClient, proxy: Proxy
) -> None:
    user_id = proxy.new_user_id()
    await litellm_client.key_generate(key_alias=f"alias-{user_id}", user_id=user_id, models=["m1"])

    with pytest.raises(LiteLLMConflict) as conflict:
        await litellm_client.key_generate(
            key_alias=f"alias-{user_id}", user_id=user_id, models=["m1"]
        )
    assert conflict.value.status == 400


@pytest.mark.parametrize("by", ["secret", "token"])
async def test_key_info_by_secret_or_token(
    litellm_client: LiteLLMClient, proxy: Proxy, by: str
) -> None:
    user_id = proxy.new_user_id()
    generated = await litellm_client.key_generate(
        key_alias=f"alias-{user_id}", user_id=user_id, models=["m1"]
    )

    info = await litellm_client.key_info(generated.key if by == "secret" else generated.token)

    assert info.key_alias == f"alias-{user_id}"
    assert info.token == generated.token
    assert info.user_id == user_id
    assert info.models == ("m1",)
    assert info.expires is None
    assert info.deleted is False


async def test_key_info_of_an_unknown_key_is_not_found(litellm_client: LiteLLMClient) -> None:
    with pytest.raises(LiteLLMNotFound):
        await litellm_client.key_info("sk-contract-no-such-key")


async def test_key_set_models_replaces_the_models_and_the_proxy_enforces_them(
    litellm_client: LiteLLMClient, proxy: Proxy
) -> None:
    user_id = proxy.new_user_id()
    generated = await litellm_client.key_generate(
        key_alias=f"alias-{user_id}", user_id=user_id, models=["m1", "m2"]
    )

    await litellm_client.key_set_models(key=generated.token, models=["m1"])

    assert (await litellm_client.key_info(generated.token)).models == ("m1",)
    denied = await proxy.chat(generated.key, "m2")
    assert denied.json()["error"]["type"] == "key_model_access_denied"


async def test_key_set_models_of_an_unknown_key_is_not_found(litellm_client: LiteLLMClient) -> None:
    # 1.108.7 answers 404; 1.80.7 a 401 "user key does not exist in db".
    with pytest.raises(LiteLLMNotFound):
        await litellm_client.key_set_models(key="sk-contract-no-such-key", models=["m1"])


async def test_a_deleted_key_reads_as_deleted_or_not_found(
    litellm_client: LiteLLMClient, proxy: Proxy
) -> None:
    user_id = proxy.new_user_id()
    generated = await litellm_client.key_generate(
        key_alias=f"alias-{user_id}", user_id=user_id, models=["m1"]
    )

    await litellm_client.key_delete(keys=[generated.key])

    if proxy.current:
        assert (await litellm_client.key_info(generated.key)).deleted is True
    else:
        with pytest.raises(LiteLLMNotFound):
            await litellm_client.key_info(generated.key)
    with pytest.raises(LiteLLMNotFound):
        await litellm_client.key_delete(keys=[generated.key])
    assert (await proxy.chat(generated.key, "m1")).status_code == 401


async def test_key_list_gives_every_key_of_a_user(
    litellm_client: LiteLLMClient, proxy: Proxy
) -> None:
    user_id = proxy.new_user_id()
    made = [
        await litellm_client.key_generate(
            key_alias=f"alias-{user_id}-{n}",
            user_id=user_id,
            models=["m1"],
            metadata={"litemaas_key_id": f"alias-{user_id}-{n}"},
        )
        for n in range(3)
    ]

    listed = await litellm_client.key_list(user_id=user_id)

    assert sorted(k.token or "" for k in listed) == sorted(g.token for g in made)
    assert {k.key_alias for k in listed} == {f"alias-{user_id}-{n}" for n in range(3)}
    assert all(k.user_id == user_id and k.models == ("m1",) for k in listed)
    # The reconciler recognises the BFF's keys by this marker.
    assert {k.metadata["litemaas_key_id"] for k in listed} == {k.key_alias for k in listed}
    assert await litellm_client.key_list(user_id=proxy.new_user_id()) == []


async def test_model_info_describes_the_catalogue(
    litellm_client: LiteLLMClient, proxy: Proxy
) -> None:
    deployments = {d.model_name: d for d in await litellm_client.model_info()}

    assert set(deployments) == {"m1", "m2"}
    for deployment in deployments.values():
        assert deployment.provider == "openai"
        assert deployment.max_tokens is None
        assert deployment.capabilities == ("chat",)
        # litellm-config.yaml's price; a proxy run without it: null in 1.108.7, 0 in 1.80.7.
        assert deployment.input_cost_per_token in (
            MODEL_COSTS["input_cost_per_token"],
            None if proxy.current else 0,
        )


async def test_readiness_passes_on_every_release(litellm_client: LiteLLMClient) -> None:
    await litellm_client.readiness()


async def test_a_wrong_master_key_is_rejected(target: Target) -> None:
    breaker = CircuitBreaker(name="litellm", fail_max=5, reset_timeout=timedelta(seconds=30))
    async with httpx.AsyncClient(base_url=target.url, headers=bearer("sk-wrong")) as http:
        client = LiteLLMClient(
            http=http, breaker=breaker, monitor=LiteLLMMonitor(), metrics=Metrics()
        )

        with pytest.raises(LiteLLMRejected) as rejected:
            await client.user_info("anyone")

    assert rejected.value.status == 401
    assert rejected.value.error_type == "token_not_found_in_db"


async def test_key_block_and_unblock_by_token(litellm_client: LiteLLMClient, proxy: Proxy) -> None:
    generated = await proxy.key_generate(models=["m1"])
    token = generated["token"]

    await litellm_client.key_block(token)
    await litellm_client.key_block(token)  # idempotent
    while_blocked = await litellm_client.key_info(token)
    [listed] = await litellm_client.key_list(user_id=generated["user_id"])
    refused = await proxy.chat(generated["key"], "m1")
    await litellm_client.key_unblock(token)
    after = await litellm_client.key_info(token)

    assert while_blocked.blocked is True
    assert listed.blocked is True
    assert refused.status_code == 401
    assert after.blocked is False
    assert (await proxy.chat(generated["key"], "m1")).status_code == 200


async def test_a_blocked_key_keeping_its_models_reaches_no_model_at_all(
    litellm_client: LiteLLMClient, proxy: Proxy
) -> None:
    # A suspended subscription's only model stays listed on the key, which is blocked instead
    # of emptied: LiteLLM reads an empty list as every model.
    generated = await proxy.key_generate(models=["m1"])
    await litellm_client.key_block(generated["token"])

    refused = [await proxy.chat(generated["key"], model) for model in ("m1", "m2")]
    listed = await litellm_client.key_info(generated["token"])

    assert [r.status_code for r in refused] == [401, 401]
    assert listed.models == ("m1",)


async def test_key_set_models_narrows_a_key_to_the_models_it_keeps(
    litellm_client: LiteLLMClient, proxy: Proxy
) -> None:
    generated = await proxy.key_generate(models=["m1", "m2"])

    await litellm_client.key_set_models(key=generated["token"], models=["m2"])
    narrowed = [(await proxy.chat(generated["key"], m)).status_code for m in ("m1", "m2")]
    await litellm_client.key_set_models(key=generated["token"], models=["m1", "m2"])
    restored = [(await proxy.chat(generated["key"], m)).status_code for m in ("m1", "m2")]

    assert narrowed[0] in (401, 403)
    assert narrowed[1] == 200
    assert restored == [200, 200]


async def test_key_block_of_an_unknown_key_is_not_found(litellm_client: LiteLLMClient) -> None:
    unknown = hashlib.sha256(b"never generated").hexdigest()

    with pytest.raises(LiteLLMNotFound):
        await litellm_client.key_block(unknown)
    with pytest.raises(LiteLLMNotFound):
        await litellm_client.key_unblock(unknown)
