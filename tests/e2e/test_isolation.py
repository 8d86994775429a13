"""Customer isolation through the client.

A client acting for customer A that names customer B's ids gets exactly what it gets for ids
that exist nowhere: the same class, status and message. Nothing of B changes. A per-call
``customer_id=`` override reaches B's data with the same client.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from flinkey_async import APIError, FlinkeyClient, NotFoundError, ValidationError
from flinkey_async import _messages as m
from flinkey_async.sandbox import REFERENCE_TIME, Sandbox

from .conftest import FAST_RETRY, MISSING_ID, World

# (name, call with the id of another entity, documented message). ``ids`` maps the id's kind to
# B's id or to an id that exists nowhere.
Probe = Callable[[FlinkeyClient, World, dict[str, int]], Awaitable[Any]]

PROBES: list[tuple[str, Probe, str]] = [
    ("products.get", lambda c, w, ids: c.products.get(ids["product"]), m.PRODUCT_NOT_FOUND),
    ("products.service", lambda c, w, ids: c.products.service(ids["product"]),
     m.PRODUCT_NOT_ASSIGNED),
    ("products.car", lambda c, w, ids: c.products.car(ids["product"]), m.PRODUCT_NOT_ASSIGNED),
    ("cars.get", lambda c, w, ids: c.cars.get(ids["car"]), m.CAR_NOT_FOUND),
    ("cars.update", lambda c, w, ids: c.cars.update(ids["car"], name="Taken over"),
     m.CAR_NOT_ASSIGNED),
    ("cars.delete", lambda c, w, ids: c.cars.delete(ids["car"]), m.CAR_NOT_ASSIGNED),
    ("cars.products", lambda c, w, ids: c.cars.products(ids["car"]), m.CAR_NOT_ASSIGNED),
    ("cars.location", lambda c, w, ids: c.cars.location(ids["car"]), m.CAR_NOT_ASSIGNED),
    ("cars.location_at", lambda c, w, ids: c.cars.location_at(ids["car"], REFERENCE_TIME),
     m.CAR_NOT_ASSIGNED),
    ("groups.cars", lambda c, w, ids: c.groups.cars(ids["group"]), m.GROUP_NOT_FOUND_BY_ID),
    ("groups.users", lambda c, w, ids: c.groups.users(ids["group"]), m.GROUP_NOT_FOUND_BY_ID),
    ("groups.services", lambda c, w, ids: c.groups.services(ids["group"]),
     m.GROUP_NOT_FOUND_BY_ID),
    ("groups.products", lambda c, w, ids: c.groups.products(ids["group"]),
     m.GROUP_NOT_FOUND_BY_ID),
    ("groups.rename", lambda c, w, ids: c.groups.rename(ids["group"], "Taken over"),
     m.GROUP_NOT_ASSIGNED),
    ("groups.delete", lambda c, w, ids: c.groups.delete(ids["group"]), m.GROUP_NOT_FOUND),
    ("groups.add_car to B's group", lambda c, w, ids: c.groups.add_car(ids["group"], w.car),
     m.GROUP_NOT_FOUND),
    ("groups.remove_user from B's group",
     lambda c, w, ids: c.groups.remove_user(ids["group"], w.group_user), m.GROUP_NOT_FOUND),
    ("groups.add_car of B's car", lambda c, w, ids: c.groups.add_car(w.empty_group, ids["car"]),
     m.CAR_ID_NOT_FOUND),
    ("groups.add_user of B's user",
     lambda c, w, ids: c.groups.add_user(w.empty_group, ids["user"]), m.USER_ID_NOT_FOUND),
    ("groups.add_service of B's service",
     lambda c, w, ids: c.groups.add_service(w.empty_group, ids["service"]),
     m.SERVICE_ID_NOT_FOUND),
    ("groups.add_product of B's product",
     lambda c, w, ids: c.groups.add_product(w.empty_group, ids["product"]),
     m.PRODUCT_ID_NOT_FOUND),
    ("groups.remove_car of B's car",
     lambda c, w, ids: c.groups.remove_car(w.group, ids["car"]), m.CAR_ID_NOT_FOUND),
    ("groups.remove_user of B's user",
     lambda c, w, ids: c.groups.remove_user(w.group, ids["user"]), m.USER_ID_NOT_FOUND),
    ("groups.remove_service of B's service",
     lambda c, w, ids: c.groups.remove_service(w.group, ids["service"]), m.SERVICE_ID_NOT_FOUND),
    ("groups.remove_product of B's product",
     lambda c, w, ids: c.groups.remove_product(w.group, ids["product"]), m.PRODUCT_ID_NOT_FOUND),
]  # fmt: skip


def _theirs(world: World) -> dict[str, int]:
    return {
        "car": world.other_car,
        "product": world.other_product,
        "group": world.other_group,
        "user": world.other_user,
        "service": world.other_service,
    }


NOWHERE = dict.fromkeys(("car", "product", "group", "user", "service"), MISSING_ID)


async def _error(call: Awaitable[Any]) -> APIError:
    with pytest.raises(NotFoundError) as caught:
        await call
    return caught.value


@pytest.mark.parametrize(("name", "probe", "message"), PROBES, ids=[p[0] for p in PROBES])
async def test_other_customers_ids_look_like_missing_ids(
    sb: Sandbox, client: FlinkeyClient, world: World, name: str, probe: Probe, message: str
) -> None:
    theirs = sb.state.snapshot(world.other)
    ours = sb.state.snapshot(world.cid)
    for_b = await _error(probe(client, world, _theirs(world)))
    for_nothing = await _error(probe(client, world, NOWHERE))
    assert type(for_b) is type(for_nothing) is NotFoundError
    assert (for_b.status, for_b.message) == (for_nothing.status, for_nothing.message)
    assert for_b.message == message
    assert sb.state.snapshot(world.other) == theirs
    assert sb.state.snapshot(world.cid) == ours


async def test_lists_hold_only_the_customers_own(
    sb: Sandbox, client: FlinkeyClient, world: World
) -> None:
    theirs = sb.state.snapshot(world.other)
    their_ids = {kind: {row["id"] for row in theirs[kind]} for kind in ("cars", "products")}
    cars = await client.cars.list()
    products = await client.products.list()
    groups = await client.groups.list()
    assert cars == sb.state.cars(world.cid)
    assert products == sb.state.products(world.cid)
    assert groups == sb.state.groups(world.cid)
    assert not {c.id for c in cars} & their_ids["cars"]
    assert not {p.id for p in products} & their_ids["products"]
    assert not {g.id for g in groups} & {g["id"] for g in theirs["groups"]}


async def test_customer_id_override_reaches_the_other_customer(
    sb: Sandbox, client: FlinkeyClient, world: World
) -> None:
    b = world.other
    assert client.customer_id == world.cid
    assert await client.cars.list(customer_id=b) == sb.state.cars(b)
    assert await client.cars.get(world.other_car, customer_id=b) == sb.state.car(b, world.other_car)
    assert await client.products.list(customer_id=b) == sb.state.products(b)
    assert await client.products.get(world.other_product, customer_id=b) == sb.state.product(
        b, world.other_product
    )
    assert await client.groups.list(customer_id=b) == sb.state.groups(b)
    assert await client.groups.cars(world.other_group, customer_id=b) == sb.state.members(
        b, world.other_group, "cars"
    )
    ours = sb.state.snapshot(world.cid)

    group_id = await client.groups.create("B's new group", customer_id=b)
    assert sb.state.group(b, group_id) is not None
    assert sb.state.group(world.cid, group_id) is None
    await client.groups.add_car(group_id, world.other_car, customer_id=b)
    assert sb.state.member_ids(b, group_id, "cars") == [world.other_car]
    car_id = await client.cars.create("B's new car", customer_id=b)
    assert sb.state.car(b, car_id) is not None
    await client.cars.update(world.other_car, license_plate="K-BB 1", customer_id=b)
    updated = sb.state.car(b, world.other_car)
    assert updated is not None
    assert updated.license_plate == "K-BB 1"
    assert sb.state.snapshot(world.cid) == ours  # A untouched by all of it

    # Without the override the same client still acts for A, and B's ids stay hidden.
    with pytest.raises(NotFoundError):
        await client.cars.get(car_id)
    assert await client.cars.list() == sb.state.cars(world.cid)


async def test_client_for_the_other_customer_sees_only_its_data(sb: Sandbox, world: World) -> None:
    async with FlinkeyClient(**sb.client_kwargs(customer_id=world.other), retry=FAST_RETRY) as b:
        assert await b.cars.list() == sb.state.cars(world.other)
        with pytest.raises(NotFoundError) as caught:
            await b.cars.get(world.car)
        assert caught.value.message == m.CAR_NOT_FOUND


async def test_client_without_a_customer(sb: Sandbox, world: World) -> None:
    """No default customer: scoped calls need ``customer_id=`` and are refused without it."""
    kwargs = sb.client_kwargs()
    kwargs["customer_id"] = None
    async with FlinkeyClient(**kwargs, retry=FAST_RETRY) as manager:
        with pytest.raises(ValidationError):
            await manager.cars.list()
        assert sb.counters.total_requests == 0
        assert await manager.customers.list() == sb.state.customers
        for customer in sb.customer_ids:
            assert await manager.cars.list(customer_id=customer) == sb.state.cars(customer)
