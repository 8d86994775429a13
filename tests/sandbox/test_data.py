"""The seeded fleet generator and the state's documented invariants (no server needed)."""

from __future__ import annotations

import itertools
import random
import re
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from flinkey_async import ProductType
from flinkey_async.sandbox import (
    REFERENCE_TIME,
    FleetSpec,
    SandboxState,
    generate,
    is_valid_vin,
    vin_check_digit,
)
from flinkey_async.sandbox._data import BRANDS, HISTORY_DAYS, GeneratedHistories, make_vin

PLATE = re.compile(r"(?P<district>[A-Z]{1,3})-(?P<letters>[A-Z]{1,2}) (?P<digits>[1-9]\d{0,3})E?")


@pytest.fixture(scope="module")
def fleet() -> SandboxState:
    return generate(FleetSpec(seed=5, customers=2, cars=200))


# -- VINs --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("vin", "digit"),
    [
        ("1M8GDM9AXKP042788", "X"),  # the textbook example of 49 CFR 565
        ("11111111111111111", "1"),
        ("1HGCM82633A004352", "3"),
    ],
)
def test_vin_check_digit_of_known_vins(vin: str, digit: str) -> None:
    assert vin_check_digit(vin) == digit
    assert is_valid_vin(vin)


def test_vin_with_wrong_check_digit_or_letters_is_invalid() -> None:
    assert not is_valid_vin("1M8GDM9A1KP042788")
    assert not is_valid_vin("1M8GDM9AXKP04278")  # 16 characters
    assert not is_valid_vin("IM8GDM9AXKP042788")  # I is not allowed
    with pytest.raises(ValueError, match="17 characters"):
        vin_check_digit("ABC")


def test_made_vins_are_valid_and_keep_the_manufacturer_prefix() -> None:
    rng = random.Random(1)
    for _ in range(500):
        vin = make_vin(rng, "WVW")
        assert is_valid_vin(vin), vin
        assert vin.startswith("WVW")


def test_generated_cars_look_real(fleet: SandboxState) -> None:
    models_of = {brand: (wmi, models) for brand, wmi, models in BRANDS}
    for customer_id in fleet.customer_ids:
        cars = fleet.cars(customer_id)
        assert len(cars) == 200
        plates = [car.license_plate for car in cars if car.license_plate is not None]
        assert len(plates) == len(set(plates)), "plates are unique per customer"
        assert len(plates) > 150
        for car in cars:
            assert car.name.strip()
            assert car.brand in models_of
            wmi, models = models_of[car.brand]
            assert car.model in models
            if car.vin is not None:
                assert is_valid_vin(car.vin), car.vin
                assert car.vin.startswith(wmi)
            if car.license_plate is not None:
                match = PLATE.fullmatch(car.license_plate)
                assert match, car.license_plate
                assert len(car.license_plate.replace("-", "").replace(" ", "")) <= 8


# -- determinism -------------------------------------------------------------------------------


def test_same_seed_same_fleet_including_histories() -> None:
    one = generate(FleetSpec(seed=7, cars=60))
    two = generate(FleetSpec(seed=7, cars=60))
    for customer_id in one.customer_ids:
        assert one.snapshot(customer_id) == two.snapshot(customer_id)
        for car in one.cars(customer_id):
            assert one.positions(customer_id, car.id) == two.positions(customer_id, car.id)
            assert one.odometer_readings(customer_id, car.id) == two.odometer_readings(
                customer_id, car.id
            )


def test_other_seed_other_fleet() -> None:
    one = generate(FleetSpec(seed=7, cars=30))
    two = generate(FleetSpec(seed=8, cars=30))
    assert one.snapshot(one.customer_ids[0]) != two.snapshot(two.customer_ids[0])


def test_customers_get_different_fleets(fleet: SandboxState) -> None:
    first, second = fleet.customer_ids

    def names(cid: int) -> list[str]:
        return [car.name for car in fleet.cars(cid)]

    assert fleet.cars(first)[0].id != fleet.cars(second)[0].id
    assert names(first) != names(second) or fleet.cars(first)[0].vin != fleet.cars(second)[0].vin


def test_sizes_follow_the_spec() -> None:
    spec = FleetSpec(seed=1, customers=3, cars=10, products=7, services=4, groups=2, users=6)
    state = generate(spec)
    assert len(state.customer_ids) == 3
    for customer_id in state.customer_ids:
        assert state.counts(customer_id) == {
            "cars": 10,
            "products": 7,
            "services": 4,
            "users": 6,
            "groups": 2,
        }


@pytest.mark.parametrize(
    "kwargs",
    [{"customers": 0}, {"cars": -1}, {"users": -2}, {"reference_time": datetime(2025, 1, 1)}],
)
def test_spec_rejects_impossible_sizes(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - the message names the field
        FleetSpec(**kwargs)  # type: ignore[arg-type]


# -- products, services, groups -----------------------------------------------------------------


def test_products_of_both_types_at_most_one_of_each_per_car(fleet: SandboxState) -> None:
    customer_id = fleet.customer_ids[0]
    types = Counter(product.type for product in fleet.products(customer_id))
    assert types[ProductType.BOX] > 0
    assert types[ProductType.IQ] > 0
    per_car: Counter[int] = Counter()
    for car in fleet.cars(customer_id):
        products = fleet.products_of_car(customer_id, car.id)
        assert len(products) <= 2
        assert len({p.type for p in products}) == len(products)
        per_car[len(products)] += 1
        for product in products:
            assert fleet.car_of_product(customer_id, product.id) == car
    assert all(per_car[n] > 0 for n in (0, 1, 2)), per_car
    in_stock = [
        p for p in fleet.products(customer_id) if fleet.car_of_product(customer_id, p.id) is None
    ]
    assert in_stock, "some products are not mounted in a car"


def test_services_active_and_terminated(fleet: SandboxState) -> None:
    customer_id = fleet.customer_ids[0]
    services = fleet.services(customer_id)
    terminated = [s for s in services if s.is_terminated]
    active = [s for s in services if not s.is_terminated]
    assert terminated
    assert active
    for service in terminated:
        assert service.termination_date is not None
        assert service.termination_date <= REFERENCE_TIME
        assert service.termination_cause
    for service in active:
        assert service.termination_date is None
        assert service.termination_cause is None
    bound = [p for p in fleet.products(customer_id) if fleet.service_of_product(customer_id, p.id)]
    assert bound


def test_groups_have_members_and_one_is_empty(fleet: SandboxState) -> None:
    customer_id = fleet.customer_ids[0]
    groups = fleet.groups(customer_id)
    assert len(groups) == 10  # 200 cars / 20
    assert len({g.name.casefold() for g in groups}) == len(groups)
    with_members = [g for g in groups if fleet.group_has_members(customer_id, g.id)]
    assert len(with_members) == len(groups) - 1
    assert not fleet.group_has_members(customer_id, groups[-1].id)
    kinds = {
        kind
        for g in groups
        for kind in ("cars", "users", "services", "products")
        if fleet.member_ids(customer_id, g.id, kind)
    }
    assert kinds == {"cars", "users", "services", "products"}


def test_users_have_unique_email_addresses(fleet: SandboxState) -> None:
    customer_id = fleet.customer_ids[0]
    emails = [u.email_address for u in fleet.users(customer_id)]
    assert len(emails) == len(set(emails)) == 100
    assert all(re.fullmatch(r"[a-z.]+\d*@[a-z]+\.example\.com", e) for e in emails), emails[:3]


def test_only_cars_with_a_flinkey_iq_have_a_history(fleet: SandboxState) -> None:
    customer_id = fleet.customer_ids[0]
    for car in fleet.cars(customer_id):
        kinds = {p.type for p in fleet.products_of_car(customer_id, car.id)}
        recorded = bool(fleet.positions(customer_id, car.id))
        assert recorded == (ProductType.IQ in kinds), (car.id, kinds)


def test_histories_are_ordered_plausible_and_recent(fleet: SandboxState) -> None:
    customer_id = fleet.customer_ids[0]
    with_iq = [
        car
        for car in fleet.cars(customer_id)
        if any(p.type is ProductType.IQ for p in fleet.products_of_car(customer_id, car.id))
    ]
    assert with_iq
    for car in with_iq[:20]:
        positions = fleet.positions(customer_id, car.id)
        readings = fleet.odometer_readings(customer_id, car.id)
        assert len(positions) > 10
        assert len(readings) > 5
        dates = [p.date for p in positions]
        assert dates == sorted(dates)
        assert REFERENCE_TIME - timedelta(days=15) < dates[0]
        assert dates[-1] <= REFERENCE_TIME
        assert all(47.0 < p.latitude < 55.5 and 5.5 < p.longitude < 15.5 for p in positions)
        odometer = [r.odometer for r in readings]
        assert odometer == sorted(odometer)


# -- the state's invariants ---------------------------------------------------------------------


@pytest.fixture
def state() -> SandboxState:
    return generate(FleetSpec(seed=2, cars=3, products=0, services=0, groups=1, users=2))


def _product(state: SandboxState, cid: int, kind: ProductType, car_id: int | None = None) -> int:
    return state.add_product(
        cid, kind, unique_id="U", serial_number="S", sap_number="P", car_id=car_id
    ).id


def test_a_car_carries_at_most_two_products_of_different_types(state: SandboxState) -> None:
    cid = state.customer_ids[0]
    car = state.add_car(cid, "Test")
    _product(state, cid, ProductType.BOX, car.id)
    with pytest.raises(ValueError, match="already has a flinkey Box"):
        _product(state, cid, ProductType.BOX, car.id)
    _product(state, cid, ProductType.IQ, car.id)
    spare = _product(state, cid, ProductType.IQ)
    with pytest.raises(ValueError, match="already has 2 products"):
        state.assign_product(cid, spare, car.id)
    assert len(state.products_of_car(cid, car.id)) == 2


def test_moving_a_product_between_cars(state: SandboxState) -> None:
    cid = state.customer_ids[0]
    one, two = state.add_car(cid, "One"), state.add_car(cid, "Two")
    box = _product(state, cid, ProductType.BOX, one.id)
    state.assign_product(cid, box, two.id)
    assert state.products_of_car(cid, one.id) == []
    assert [p.id for p in state.products_of_car(cid, two.id)] == [box]
    assert not state.has_products(one.id)


def test_deleting_a_car_frees_products_and_memberships(state: SandboxState) -> None:
    cid = state.customer_ids[0]
    car = state.add_car(cid, "Doomed")
    box = _product(state, cid, ProductType.BOX, car.id)
    group = state.add_group(cid, "Doomed cars")
    state.add_member(cid, group.id, "cars", car.id)
    state.delete_car(cid, car.id)
    assert state.car(cid, car.id) is None
    assert state.car_of_product(cid, box) is None
    assert state.member_ids(cid, group.id, "cars") == []


def test_group_names_are_unique_per_customer_ignoring_case(state: SandboxState) -> None:
    first, second = state.customer_ids
    state.add_group(first, "Night Shift")
    with pytest.raises(ValueError, match="already has a group"):
        state.add_group(first, "night shift")
    state.add_group(second, "Night Shift")  # another customer may use the name


def test_lookups_never_cross_customers(state: SandboxState) -> None:
    first, second = state.customer_ids
    car = state.cars(second)[0]
    assert state.car(first, car.id) is None
    assert state.car_wire(first, car.id) is None
    assert state.products_of_car(first, car.id) == []
    with pytest.raises(LookupError):
        state.update_car(first, car.id, name="stolen")
    with pytest.raises(LookupError):
        state.add_member(first, state.groups(first)[0].id, "cars", car.id)


def test_location_is_the_nearest_recording(state: SandboxState) -> None:
    cid = state.customer_ids[0]
    car = state.add_car(cid, "Tracked")
    assert state.location(cid, car.id).date is None  # nothing recorded: all null
    t0 = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
    state.record_position(cid, car.id, t0, 48.1, 11.5)
    state.record_position(cid, car.id, t0 + timedelta(hours=2), 48.2, 11.6)
    state.record_odometer(cid, car.id, t0 + timedelta(minutes=30), 1000.0)
    state.record_odometer(cid, car.id, t0 + timedelta(hours=5), 1100.5)

    latest = state.location(cid, car.id)
    assert (latest.latitude, latest.odometer) == (48.2, 1100.5)

    at = state.location(cid, car.id, t0 + timedelta(minutes=70))
    assert at.date == t0 + timedelta(hours=2)  # 50 min away beats 70 min away
    assert at.odometer_date == t0 + timedelta(minutes=30)  # position and odometer separately
    tie = state.location(cid, car.id, t0 + timedelta(hours=1))
    assert tie.date == t0  # exactly between two fixes: the earlier one
    before = state.location(cid, car.id, t0 - timedelta(days=3))
    assert before.date == t0
    after = state.location(cid, car.id, t0 + timedelta(days=3))
    assert after.date == t0 + timedelta(hours=2)


def test_snapshot_is_a_copy(state: SandboxState) -> None:
    cid = state.customer_ids[0]
    snap = state.snapshot(cid)
    snap["cars"][0]["name"] = "changed"
    assert state.snapshot(cid)["cars"][0]["name"] != "changed"


# -- histories made in parts -------------------------------------------------------------------


def _with_iq(state: SandboxState, customer_id: int) -> list[int]:
    return [
        car.id
        for car in state.cars(customer_id)
        if any(p.type is ProductType.IQ for p in state.products_of_car(customer_id, car.id))
    ]


def _histories(state: SandboxState) -> GeneratedHistories:
    source = state.history_source
    assert isinstance(source, GeneratedHistories)
    return source


def test_latest_location_does_not_generate_the_history() -> None:
    state = generate(FleetSpec(seed=5, cars=40))
    cid = state.customer_ids[0]
    cars = _with_iq(state, cid)
    for car_id in cars:
        location = state.location(cid, car_id)
        assert location.date is not None
        assert location.odometer_date is not None
    made = _histories(state).days_made
    assert {car_id: made[car_id] for car_id in cars} == dict.fromkeys(cars, 1)  # the last day


def test_a_location_at_a_date_is_made_once_from_three_days_at_most() -> None:
    state = generate(FleetSpec(seed=5, cars=10))
    cid = state.customer_ids[0]
    car_id = _with_iq(state, cid)[0]
    made = _histories(state).days_made
    at = REFERENCE_TIME - timedelta(days=6, hours=5)
    first = state.location(cid, car_id, at)
    assert made[car_id] == 3
    assert state.location(cid, car_id, at) == first
    assert state.location(cid, car_id, at + timedelta(minutes=1)).date is not None
    assert made[car_id] == 3  # same days: nothing generated again


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_parts_give_what_the_whole_history_gives(seed: int) -> None:
    """The latest location and the one at any instant, made from a day or three, are those of
    the whole history (the nearest fix and reading, the earlier one on a tie)."""
    lazy = generate(FleetSpec(seed=seed, cars=30))
    whole = generate(FleetSpec(seed=seed, cars=30))
    cid = lazy.customer_ids[0]
    rng = random.Random(seed)
    for car_id in _with_iq(lazy, cid)[:8]:
        positions = whole.positions(cid, car_id)  # the whole history, held by the state
        readings = whole.odometer_readings(cid, car_id)
        instants = [None, REFERENCE_TIME, REFERENCE_TIME + timedelta(days=400)]
        instants += [REFERENCE_TIME - timedelta(days=d) for d in (0, 1, 7, 13, 14, 15, 900)]
        instants += [p.date for p in positions[::5]] + [r.date for r in readings[::3]]
        instants += [  # exactly between two fixes: a tie, the earlier one wins
            a.date + (b.date - a.date) / 2 for a, b in itertools.pairwise(positions)
        ][::4]
        instants += [
            REFERENCE_TIME - timedelta(seconds=rng.randrange(15 * 86_400)) for _ in "x" * 40
        ]
        for at in instants:
            assert lazy.location(cid, car_id, at) == whole.location(cid, car_id, at), at
    assert any(lazy.location(cid, c).date for c in _with_iq(lazy, cid))


def test_one_fix_a_day_at_least_and_one_reading_a_day() -> None:
    state = generate(FleetSpec(seed=9, cars=30))
    cid = state.customer_ids[0]
    start = REFERENCE_TIME - timedelta(days=HISTORY_DAYS)
    for car_id in _with_iq(state, cid)[:10]:
        days = {(p.date - start) // timedelta(days=1) for p in state.positions(cid, car_id)}
        assert days == set(range(HISTORY_DAYS))
        readings = state.odometer_readings(cid, car_id)
        assert len(readings) == HISTORY_DAYS
        assert {(r.date - start) // timedelta(days=1) for r in readings} == days
