"""Every endpoint's success path through the client: the 28 of the reference pages and
``GET /customers``.

Reads must equal the sandbox's ground truth as typed models; changes must show in ``sb.state``
(and in ``sb.counters``), and be the only change.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone

import pytest

from flinkey_async import (
    Car,
    Customer,
    FlinkeyClient,
    Group,
    Location,
    Product,
    Service,
    User,
)
from flinkey_async.sandbox import REFERENCE_TIME, MemberKind, Sandbox

from .conftest import World

MEMBER_KINDS: tuple[MemberKind, ...] = ("cars", "users", "services", "products")


def _all_typed(values: Sequence[object], cls: type) -> bool:
    return all(type(value) is cls for value in values)


# -- products ----------------------------------------------------------------------------------


async def test_products_list(sb: Sandbox, client: FlinkeyClient, world: World) -> None:
    products = await client.products.list()
    assert products == sb.state.products(world.cid)
    assert len(products) >= 10
    assert _all_typed(products, Product)


async def test_products_get(sb: Sandbox, client: FlinkeyClient, world: World) -> None:
    for product in sb.state.products(world.cid):
        got = await client.products.get(product.id)
        assert type(got) is Product
        assert got == product
    dated = await client.products.get(world.dated_product)
    assert dated.dongle_termination_time_stamp is not None
    assert dated.dongle_termination_time_stamp.tzinfo is not None


async def test_products_service(sb: Sandbox, client: FlinkeyClient, world: World) -> None:
    with_service = [
        p.id for p in sb.state.products(world.cid) if sb.state.service_of_product(world.cid, p.id)
    ]
    assert with_service
    for product_id in with_service:
        service = await client.products.service(product_id)
        assert type(service) is Service
        assert service == sb.state.service_of_product(world.cid, product_id)


async def test_products_car(sb: Sandbox, client: FlinkeyClient, world: World) -> None:
    in_a_car = [
        p.id for p in sb.state.products(world.cid) if sb.state.car_of_product(world.cid, p.id)
    ]
    assert in_a_car
    for product_id in in_a_car:
        car = await client.products.car(product_id)
        assert type(car) is Car
        assert car == sb.state.car_of_product(world.cid, product_id)


# -- cars --------------------------------------------------------------------------------------


async def test_cars_list(sb: Sandbox, client: FlinkeyClient, world: World) -> None:
    cars = await client.cars.list()
    assert cars == sb.state.cars(world.cid)
    assert len(cars) == 12
    assert _all_typed(cars, Car)


async def test_cars_get(sb: Sandbox, client: FlinkeyClient, world: World) -> None:
    for car in sb.state.cars(world.cid):
        got = await client.cars.get(car.id)
        assert type(got) is Car
        assert got == car


async def test_cars_create(sb: Sandbox, client: FlinkeyClient, world: World) -> None:
    before = len(sb.state.cars(world.cid))
    car_id = await client.cars.create(
        "Pool car 7",
        license_plate="B-FL 7",
        vin="WVWZZZ1JZXW000007",
        description="E2E pool car",
        brand="Volkswagen",
        model="Golf",
    )
    assert sb.state.car(world.cid, car_id) == Car(
        car_id, "Pool car 7", "E2E pool car", "WVWZZZ1JZXW000007", "B-FL 7", "Volkswagen", "Golf"
    )
    minimal_id = await client.cars.create("Only a name")
    assert sb.state.car(world.cid, minimal_id) == Car(minimal_id, "Only a name")
    assert len(sb.state.cars(world.cid)) == before + 2
    assert sb.counters.created["car"] == 2
    assert sb.counters.requests["PUT /cars"] == 2
    assert sb.state.products_of_car(world.cid, car_id) == []
    assert await client.cars.get(car_id) == sb.state.car(world.cid, car_id)


async def test_cars_update(sb: Sandbox, client: FlinkeyClient, world: World) -> None:
    original = sb.state.car(world.cid, world.car)
    assert original is not None
    assert original.description is not None
    untouched = [c for c in sb.state.cars(world.cid) if c.id != world.car]
    await client.cars.update(
        world.car, name="Renamed", license_plate="HH-XY 99", description=None, brand="Škoda"
    )
    assert sb.state.car(world.cid, world.car) == Car(
        world.car, "Renamed", None, original.vin, "HH-XY 99", "Škoda", original.model
    )
    await client.cars.update(world.car, vin=None, model="Octavia")
    updated = sb.state.car(world.cid, world.car)
    assert updated == Car(world.car, "Renamed", None, None, "HH-XY 99", "Škoda", "Octavia")
    assert [c for c in sb.state.cars(world.cid) if c.id != world.car] == untouched
    assert sb.counters.requests["PATCH /cars/{carId}"] == 2
    assert await client.cars.get(world.car) == updated


async def test_cars_delete(sb: Sandbox, client: FlinkeyClient, world: World) -> None:
    products = sb.state.products_of_car(world.cid, world.car)
    assert products
    await client.cars.delete(world.car)
    assert sb.state.car(world.cid, world.car) is None
    assert world.car not in [c.id for c in sb.state.cars(world.cid)]
    for product in products:  # the products stay, in no car
        assert sb.state.product(world.cid, product.id) == product
        assert sb.state.car_of_product(world.cid, product.id) is None
    assert len(sb.state.cars(world.cid)) == 11
    assert sb.counters.responses[("DELETE /cars/{carId}", 204)] == 1


async def test_cars_products(sb: Sandbox, client: FlinkeyClient, world: World) -> None:
    with_products = [
        c.id for c in sb.state.cars(world.cid) if sb.state.products_of_car(world.cid, c.id)
    ]
    assert world.car in with_products
    for car_id in with_products:
        products = await client.cars.products(car_id)
        assert _all_typed(products, Product)
        assert products == sb.state.products_of_car(world.cid, car_id)
    assert len(await client.cars.products(world.car)) == 2


async def test_cars_location(sb: Sandbox, client: FlinkeyClient, world: World) -> None:
    location = await client.cars.location(world.car)
    assert type(location) is Location
    assert location == sb.state.location(world.cid, world.car)
    assert location.latitude is not None
    assert location.odometer is not None
    assert location.date is not None
    assert location.date.tzinfo is not None


async def test_cars_location_at(sb: Sandbox, client: FlinkeyClient, world: World) -> None:
    # Sent in UTC as yyyy-MM-ddTHH:mm:ssZ, sub-seconds dropped: ask in +02:00 with microseconds.
    when = (REFERENCE_TIME - timedelta(days=5, minutes=17)).astimezone(
        timezone(timedelta(hours=2))
    ) + timedelta(microseconds=654_321)
    location = await client.cars.location_at(world.car, when)
    sent = when.astimezone(UTC).replace(microsecond=0)
    assert location == sb.state.location(world.cid, world.car, at=sent)
    assert location != sb.state.location(world.cid, world.car)
    before_history = await client.cars.location_at(world.car, datetime(2000, 1, 1, tzinfo=UTC))
    first = sb.state.positions(world.cid, world.car)[0]
    assert before_history.date == first.date
    assert before_history == sb.state.location(
        world.cid, world.car, at=datetime(2000, 1, 1, tzinfo=UTC)
    )


# -- groups: reading ---------------------------------------------------------------------------


async def test_groups_list(sb: Sandbox, client: FlinkeyClient, world: World) -> None:
    groups = await client.groups.list()
    assert groups == sb.state.groups(world.cid)
    assert _all_typed(groups, Group)
    assert len(groups) == 3


@pytest.mark.parametrize("kind", MEMBER_KINDS)
async def test_groups_members(sb: Sandbox, client: FlinkeyClient, world: World, kind: str) -> None:
    model = {"cars": Car, "users": User, "services": Service, "products": Product}[kind]
    method = getattr(client.groups, kind)
    for group in sb.state.groups(world.cid):
        members = await method(group.id)
        assert _all_typed(members, model)
        assert members == sb.state.members(world.cid, group.id, kind)
    assert await method(world.group)
    assert await method(world.empty_group) == []


# -- groups: changing --------------------------------------------------------------------------


async def test_groups_create(sb: Sandbox, client: FlinkeyClient, world: World) -> None:
    other_customer = sb.state.snapshot(world.other)
    group_id = await client.groups.create("Pool Hamburg")
    assert sb.state.group(world.cid, group_id) == Group(group_id, "Pool Hamburg")
    assert not sb.state.group_has_members(world.cid, group_id)
    longest = "L" * 250
    longest_id = await client.groups.create(longest)
    assert sb.state.group(world.cid, longest_id) == Group(longest_id, longest)
    assert sb.counters.created["group"] == 2
    assert len(sb.state.groups(world.cid)) == 5
    assert sb.state.snapshot(world.other) == other_customer
    assert Group(group_id, "Pool Hamburg") in await client.groups.list()


async def test_groups_rename(sb: Sandbox, client: FlinkeyClient, world: World) -> None:
    members = {k: sb.state.member_ids(world.cid, world.group, k) for k in MEMBER_KINDS}
    await client.groups.rename(world.group, "Renamed group")
    assert sb.state.group(world.cid, world.group) == Group(world.group, "Renamed group")
    assert {k: sb.state.member_ids(world.cid, world.group, k) for k in MEMBER_KINDS} == members
    await client.groups.rename(world.group, "R" * 250)
    assert sb.state.group(world.cid, world.group) == Group(world.group, "R" * 250)
    assert sb.counters.responses[("PATCH /groups/{groupId}", 204)] == 2


async def test_groups_delete(sb: Sandbox, client: FlinkeyClient, world: World) -> None:
    others = [g for g in sb.state.groups(world.cid) if g.id != world.empty_group]
    await client.groups.delete(world.empty_group)
    assert sb.state.group(world.cid, world.empty_group) is None
    assert sb.state.groups(world.cid) == others


@pytest.mark.parametrize("kind", MEMBER_KINDS)
async def test_groups_add_member(
    sb: Sandbox, client: FlinkeyClient, world: World, kind: str
) -> None:
    member = {
        "cars": world.car,
        "users": world.user,
        "services": world.service,
        "products": world.product,
    }[kind]
    add = getattr(client.groups, f"add_{kind[:-1]}")
    await add(world.empty_group, member)
    assert sb.state.member_ids(world.cid, world.empty_group, kind) == [member]
    assert sb.counters.assigned[kind[:-1]] == 1
    assert sb.counters.responses[(f"PUT /groups/{{groupId}}/{kind}", 204)] == 1
    listed = await getattr(client.groups, kind)(world.empty_group)
    assert [m.id for m in listed] == [member]


@pytest.mark.parametrize("kind", MEMBER_KINDS)
async def test_groups_remove_member(
    sb: Sandbox, client: FlinkeyClient, world: World, kind: str
) -> None:
    member = {
        "cars": world.group_car,
        "users": world.group_user,
        "services": world.group_service,
        "products": world.group_product,
    }[kind]
    before = sb.state.member_ids(world.cid, world.group, kind)
    remove = getattr(client.groups, f"remove_{kind[:-1]}")
    await remove(world.group, member)
    after = sb.state.member_ids(world.cid, world.group, kind)
    assert after == [m for m in before if m != member]
    # Only the membership went: the entity itself is still there.
    assert member in [e.id for e in getattr(sb.state, kind)(world.cid)]


async def test_group_lifecycle(sb: Sandbox, client: FlinkeyClient, world: World) -> None:
    """Create, fill, empty, rename and delete one group: every step shows in the state."""
    group_id = await client.groups.create("Lifecycle")
    await client.groups.add_car(group_id, world.car)
    await client.groups.add_user(group_id, world.user)
    await client.groups.add_service(group_id, world.service)
    await client.groups.add_product(group_id, world.product)
    assert {k: sb.state.member_ids(world.cid, group_id, k) for k in MEMBER_KINDS} == {
        "cars": [world.car],
        "users": [world.user],
        "services": [world.service],
        "products": [world.product],
    }
    await client.groups.remove_car(group_id, world.car)
    await client.groups.remove_user(group_id, world.user)
    await client.groups.remove_service(group_id, world.service)
    await client.groups.remove_product(group_id, world.product)
    assert not sb.state.group_has_members(world.cid, group_id)
    await client.groups.rename(group_id, "Lifecycle, renamed")
    assert sb.state.group(world.cid, group_id) == Group(group_id, "Lifecycle, renamed")
    await client.groups.delete(group_id)
    assert sb.state.group(world.cid, group_id) is None


# -- customers ---------------------------------------------------------------------------------


async def test_customers_list(sb: Sandbox, client: FlinkeyClient) -> None:
    customers = await client.customers.list()
    assert _all_typed(customers, Customer)
    assert customers == sb.state.customers
    assert [c.id for c in customers] == sb.customer_ids
    assert sb.counters.requests["GET /customers"] == 1


async def test_one_token_for_every_endpoint(
    sb: Sandbox, client: FlinkeyClient, world: World
) -> None:
    """One run over every read endpoint asks for one token, and nothing goes wrong."""
    await client.customers.list()
    await client.products.list()
    await client.products.get(world.product)
    await client.products.service(world.product)
    await client.products.car(world.product)
    await client.cars.list()
    await client.cars.get(world.car)
    await client.cars.products(world.car)
    await client.cars.location(world.car)
    await client.cars.location_at(world.car, REFERENCE_TIME)
    await client.groups.list()
    for kind in MEMBER_KINDS:
        await getattr(client.groups, kind)(world.group)
    assert sb.counters.tokens_issued == 1
    assert sb.counters.token_requests == 1
    assert client.stats.token_requests == 1
    assert client.stats.retries == 0
    assert client.stats.token_replays == 0
    assert all(status == 200 for (_, status) in sb.counters.responses)
