"""The generated structure hooks build the same values as the models' own constructors."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import attrs
import pytest

from flinkey_async import Car, DecodeError, Group, Location, Product, Token, User, UserData
from flinkey_async._converter import (
    _generate,
    _slot_twin,
    converter,
    structure,
    structure_list,
    unstructure,
)

from .endpoints import (
    CAR,
    CAR_JSON,
    CUSTOMER,
    CUSTOMER_JSON,
    LOCATION,
    LOCATION_JSON,
    PRODUCT,
    PRODUCT_JSON,
    SERVICE,
    SERVICE_JSON,
    USER,
    USER_JSON,
)

CASES: list[tuple[Any, Any]] = [
    (CAR_JSON, CAR),
    (PRODUCT_JSON, PRODUCT),
    (SERVICE_JSON, SERVICE),
    (USER_JSON, USER),
    (LOCATION_JSON, LOCATION),
    (CUSTOMER_JSON, CUSTOMER),
    ({"id": 9, "name": "g"}, Group(9, "g")),
]


@pytest.mark.parametrize(("payload", "expected"), CASES, ids=lambda v: type(v).__name__)
def test_same_as_constructor(payload: dict[str, Any], expected: Any) -> None:
    cls = type(expected)
    value = structure(payload, cls)
    assert value == expected
    assert hash(value) == hash(expected)
    assert repr(value) == repr(expected)
    assert structure_list([payload, payload], cls) == [expected, expected]
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        value.id = 1  # still frozen


def test_round_trip() -> None:
    for _, expected in CASES:
        again = structure(unstructure(expected), type(expected))
        assert again == expected


def test_lenient_where_the_service_is() -> None:
    assert structure({"id": 7.0, "name": "x"}, Car).id == 7
    assert structure({"id": 1, "emailAddress": "a"}, User).user_data == UserData()
    assert structure({"id": 1, "emailAddress": "a", "userData": None}, User).user_data == UserData()
    assert structure({"latitude": 52, "odometer": "1e3"}, Location) == Location(
        52.0, None, None, None, 1000.0
    )
    naive = structure({"date": "2024-05-01T12:00:00"}, Location)
    assert naive.date == datetime(2024, 5, 1, 12, tzinfo=UTC)
    for expires in ("60", 60, 60.0):
        assert structure({"access_token": "t", "expires_in": expires}, Token).expires_in == 60.0


@pytest.mark.parametrize(
    ("payload", "cls", "path"),
    [
        ({"id": True, "name": "x"}, Car, "id"),
        ({"id": 1.5, "name": "x"}, Car, "id"),
        ({"id": 1, "name": "x", "brand": 3}, Car, "brand"),
        ({"id": 1, "emailAddress": "a", "userData": {"firstName": 1}}, User, "userData.firstName"),
        ({"id": 1, "emailAddress": "a", "userData": []}, User, "userData"),
        ({"latitude": "north"}, Location, "latitude"),
        ({"latitude": True}, Location, "latitude"),
        ({"date": "yesterday"}, Location, "date"),
        ({**PRODUCT_JSON, "dongleTerminationTimeStamp": 5}, Product, "dongleTerminationTimeStamp"),
        ({"access_token": "t", "expires_in": True}, Token, "expires_in"),
        ({"expires_in": 1}, Token, "access_token"),
        ("not an object", Car, "$"),
    ],
)
def test_malformed_names_the_field(payload: Any, cls: type[Any], path: str) -> None:
    with pytest.raises(DecodeError) as caught:
        structure(payload, cls)
    assert caught.value.path == path


def test_list_of_non_objects() -> None:
    with pytest.raises(DecodeError) as caught:
        structure_list([CAR_JSON, 5], Car)
    assert caught.value.path == "[1]"


def test_hooks_live_in_the_one_converter() -> None:
    assert converter.get_structure_hook(Car).__name__ == "structure_one"
    assert converter.get_structure_hook(list[Car]).__name__ == "structure_many"


def test_a_twin_only_where_init_just_sets_slots() -> None:
    @attrs.frozen(weakref_slot=False)
    class Plain:
        a: int

    @attrs.frozen(weakref_slot=False)
    class Validated:
        a: int = attrs.field(validator=attrs.validators.gt(0))

    @attrs.frozen(weakref_slot=False)
    class PostInit:
        a: int

        def __attrs_post_init__(self) -> None:
            pass

    @attrs.frozen(slots=False)
    class NoSlots:
        a: int

    assert _slot_twin(Plain) is not None
    assert _slot_twin(Validated) is None
    assert _slot_twin(PostInit) is None
    assert _slot_twin(NoSlots) is None


def test_without_a_twin_init_runs_and_validates() -> None:
    @attrs.frozen(weakref_slot=False)
    class Validated:
        a: int = attrs.field(validator=attrs.validators.gt(0))

    one, many = _generate(converter, Validated, str)
    assert one({"a": 2}, Validated) == Validated(2)
    assert many([{"a": 1}, {"a": 3}], list[Validated]) == [Validated(1), Validated(3)]
    with pytest.raises(ValueError, match="'a' must be > 0"):
        one({"a": 0}, Validated)


def test_models_are_built_through_a_slot_twin() -> None:
    from flinkey_async._models import Customer, Service

    for cls in (Car, Product, Service, Group, User, UserData, Location, Customer, Token):
        assert _slot_twin(cls) is not None, cls
    value = structure(CAR_JSON, Car)
    assert type(value) is Car
    assert isinstance(value, Car)
    assert attrs.asdict(value) == attrs.asdict(CAR)


def test_no_slot_twin_where_the_layout_differs() -> None:
    @attrs.frozen  # a __weakref__ slot: CPython refuses the class change
    class WithWeakref:
        a: int

    @attrs.frozen(weakref_slot=False)
    class Base:
        a: int

    @attrs.frozen(weakref_slot=False)
    class Derived(Base):
        b: int = 0

    assert _slot_twin(WithWeakref) is None
    assert _slot_twin(Derived) is None
    assert _slot_twin(Base) is not None


def test_import_leaves_the_bulk_helpers_and_odata_unloaded() -> None:
    import subprocess
    import sys

    code = (
        "import sys, flinkey_async\n"
        "assert 'flinkey_async.odata' not in sys.modules\n"
        "assert 'flinkey_async._fleet' not in sys.modules\n"
        "from flinkey_async import FleetSnapshot\n"
        "assert FleetSnapshot is sys.modules['flinkey_async._fleet'].FleetSnapshot\n"
        "assert 'FleetSnapshot' in dir(flinkey_async)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
