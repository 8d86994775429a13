"""Token endpoint, API key, bearer token and Customer-ID checks, and their order."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import jwt
import pytest

from flinkey_async import _messages as m
from flinkey_async.sandbox import ENDPOINTS, Sandbox

from .rawhttp import Api
from .world import UNKNOWN_ID, build_world, valid_call

KEY_401 = {"statusCode": 401, "message": m.INVALID_API_KEY}
TOKEN_401 = {"statusCode": 401, "message": m.INVALID_TOKEN}


# -- POST /oauth2/token -------------------------------------------------------------------------


async def test_password_grant_issues_a_signed_expiring_jwt(api: Api, sandbox: Sandbox) -> None:
    reply = await api.request_token()
    assert reply.status == 200
    assert reply.content_type == "application/json; charset=utf-8"
    assert reply.headers["Cache-Control"] == "no-store"
    body = reply.json()
    assert set(body) == {"token_type", "expires_in", "access_token"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == "3600"  # a string, as the live service sends it
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] in (3600, 3601)
    assert sandbox.counters.tokens_issued == 1
    assert sandbox.counters.token_requests == 1


async def test_token_lifetime_is_configurable() -> None:
    async with Sandbox(cars=1, token_ttl=5) as sb, aiohttp.ClientSession() as http:
        reply = await Api(sb, http).request_token()
        assert reply.json()["expires_in"] == "5"
        sb.token_ttl = 60
        assert (await Api(sb, http).request_token()).json()["expires_in"] == "60"
        with pytest.raises(ValueError, match="token_ttl"):
            sb.token_ttl = 0


async def test_token_endpoint_requires_the_api_key(api: Api) -> None:
    reply = await api.request_token(api_key="wrong")
    assert (reply.status, reply.json()) == (401, KEY_401)


@pytest.mark.parametrize(
    ("form", "error"),
    [
        ({"grant_type": "client_credentials"}, "unsupported_grant_type"),
        ({"password": "wrong"}, "invalid_grant"),
        ({"username": "someone@example.com"}, "invalid_grant"),
        ({"password": ""}, "invalid_request"),
    ],
)
async def test_bad_grants_answer_oauth_errors(api: Api, form: dict[str, str], error: str) -> None:
    reply = await api.request_token(**form)
    assert reply.status == 400
    assert reply.json()["error"] == error
    assert reply.json()["error_description"]


async def test_token_request_must_be_form_encoded(api: Api, sandbox: Sandbox) -> None:
    async with api.session.post(
        sandbox.url("/oauth2/token"),
        json={"grant_type": "password", "username": sandbox.username, "password": sandbox.password},
        headers={"flinkey-API-Key": sandbox.api_key},
    ) as response:
        assert response.status == 400
        assert (await response.json())["error"] == "invalid_request"
    assert sandbox.counters.tokens_issued == 0


# -- the bearer token ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "authorization",
    [
        None,  # missing
        "Bearer",  # empty
        "Bearer not-a-jwt",  # malformed
        "Basic dXNlcjpwYXNz",  # wrong scheme
    ],
)
async def test_missing_or_malformed_token(api: Api, authorization: str | None) -> None:
    if authorization is None:
        reply = await api.get("/cars", omit=("Authorization",))
    else:
        reply = await api.get("/cars", authorization=authorization)
    assert (reply.status, reply.json()) == (401, TOKEN_401)


async def test_token_of_another_sandbox_is_wrongly_signed(api: Api) -> None:
    async with Sandbox(cars=1) as other:
        foreign = other.issue_token()
    reply = await api.get("/cars", token=foreign)
    assert (reply.status, reply.json()) == (401, TOKEN_401)


async def test_forged_token_with_own_claims_is_rejected(api: Api, sandbox: Sandbox) -> None:
    good = sandbox.issue_token()
    claims = jwt.decode(good, options={"verify_signature": False})
    forged = jwt.encode(claims, "guessed-secret-that-is-long-enough-for-hs256", algorithm="HS256")
    reply = await api.get("/cars", token=forged)
    assert (reply.status, reply.json()) == (401, TOKEN_401)
    unsigned = jwt.encode(claims, None, algorithm="none")  # type: ignore[arg-type]
    reply = await api.get("/cars", token=unsigned)
    assert (reply.status, reply.json()) == (401, TOKEN_401)


async def test_expired_token(api: Api, sandbox: Sandbox) -> None:
    reply = await api.get("/cars", token=sandbox.issue_token(ttl=-5))
    assert (reply.status, reply.json()) == (401, TOKEN_401)


async def test_token_expires_after_its_lifetime() -> None:
    async with Sandbox(cars=1, token_ttl=1) as sb, aiohttp.ClientSession() as http:
        api = Api(sb, http)
        token = await api.token()
        assert (await api.get("/cars", token=token)).status == 200  # verified and remembered
        await asyncio.sleep(2.1)
        reply = await api.get("/cars", token=token)
        assert (reply.status, reply.json()) == (401, TOKEN_401)


async def test_revocation_invalidates_every_issued_token(api: Api, sandbox: Sandbox) -> None:
    first = await api.token()
    second = sandbox.issue_token()
    assert (await api.get("/cars", token=first)).status == 200
    sandbox.revoke_tokens()
    for token in (first, second):
        reply = await api.get("/cars", token=token)
        assert (reply.status, reply.json()) == (401, TOKEN_401)
    fresh = await api.token(fresh=True)
    assert (await api.get("/cars", token=fresh)).status == 200


# -- Customer-ID --------------------------------------------------------------------------------


@pytest.mark.parametrize("customer_id", [str(UNKNOWN_ID), "abc", "", "12.5"])
async def test_customer_the_manager_does_not_have(api: Api, customer_id: str) -> None:
    reply = await api.get("/cars/1", customer_id=customer_id)
    assert (reply.status, reply.text) == (404, m.MANAGER_NOT_FOUND)


async def test_missing_customer_id(api: Api) -> None:
    reply = await api.get("/products", omit=("Customer-ID",))
    assert (reply.status, reply.text) == (404, m.MANAGER_NOT_FOUND)


async def test_customers_lists_every_customer_of_the_manager(api: Api, sandbox: Sandbox) -> None:
    reply = await api.get("/customers", omit=("Customer-ID",))
    assert reply.status == 200
    assert reply.json() == [{"id": c.id, "name": c.name} for c in sandbox.state.customers]
    assert [c["id"] for c in reply.json()] == sandbox.customer_ids
    assert len(sandbox.customer_ids) == 2
    added = sandbox.state.add_customer("Added later GmbH")  # the kept answer is made anew
    reply = await api.get("/customers", omit=("Customer-ID",))
    assert reply.json()[-1] == {"id": added.id, "name": "Added later GmbH"}


async def test_customers_needs_key_and_token(api: Api) -> None:
    reply = await api.get("/customers", api_key="wrong")
    assert (reply.status, reply.json()) == (401, KEY_401)
    reply = await api.get("/customers", omit=("Authorization",))
    assert (reply.status, reply.json()) == (401, TOKEN_401)


# -- the order of the checks, on every endpoint --------------------------------------------------


@pytest.mark.parametrize("route", ENDPOINTS)
async def test_checks_run_key_token_media_type_customer(
    api: Api, sandbox: Sandbox, route: str
) -> None:
    world = build_world(sandbox)
    before = sandbox.state.snapshot(world.customer_id)
    call = valid_call(route, world)
    body = None if call.body is None else b"{}"
    everything_wrong: dict[str, Any] = {
        "api_key": "wrong",
        "authorization": "Bearer nope",
        "customer_id": "x",
    }
    if body is not None:
        everything_wrong["content_type"] = "text/plain"
    reply = await api.call(call.method, call.path, raw_body=body, **everything_wrong)
    assert (reply.status, reply.json()) == (401, KEY_401)

    del everything_wrong["api_key"]
    reply = await api.call(call.method, call.path, raw_body=body, **everything_wrong)
    assert (reply.status, reply.json()) == (401, TOKEN_401)

    del everything_wrong["authorization"]
    reply = await api.call(call.method, call.path, raw_body=body, **everything_wrong)
    if body is not None:
        assert reply.status == 415
        del everything_wrong["content_type"]
        reply = await api.call(
            call.method, call.path, raw_body=body, content_type="application/json",
            **everything_wrong,
        )  # fmt: skip
    assert (reply.status, reply.text) == (404, m.MANAGER_NOT_FOUND)
    assert sandbox.state.snapshot(world.customer_id) == before  # nothing was changed
