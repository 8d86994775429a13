"""With msgspec, bodies decode to the same values and the same errors as through the converter.

One corpus, the sandbox fleet's own JSON plus bodies that go wrong on purpose, decoded both
ways: ``decode`` (msgspec straight from the bytes when it takes the body) and the reference,
``_json.loads`` then ``structure``. The outcomes (value, or error class and path) must agree.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import orjson
import pytest

from flinkey_async import (
    Car,
    CreatedId,
    Customer,
    DecodeError,
    Group,
    Location,
    Product,
    Service,
    Token,
    User,
    _json,
)
from flinkey_async._converter import decode, decode_list, structure, structure_list, unstructure
from flinkey_async.sandbox._data import FleetSpec, generate

from .endpoints import CAR_JSON, PRODUCT_JSON, SERVICE_JSON, USER_JSON

_msgspec = pytest.importorskip("flinkey_async._msgspec")


def _fleet_bodies() -> list[tuple[bytes, type[Any], bool]]:
    """The list bodies of a generated fleet, as the sandbox sends them."""
    state = generate(FleetSpec(seed=11, customers=1, cars=60))
    (customer,) = state.customer_ids
    groups = state.groups(customer)
    users = state.users(customer)
    services = state.services(customer)
    assert users
    assert services
    assert groups
    bodies: list[tuple[bytes, type[Any], bool]] = [
        (orjson.dumps(unstructure(state.cars(customer))), Car, True),
        (orjson.dumps(unstructure(state.products(customer))), Product, True),
        (orjson.dumps(unstructure(groups)), Group, True),
        (orjson.dumps(unstructure(users)), User, True),
        (orjson.dumps(unstructure(services)), Service, True),
        (orjson.dumps(unstructure(state.customers)), Customer, True),
    ]
    for car in state.cars(customer)[:5]:
        bodies.append((orjson.dumps(unstructure(car)), Car, False))
        location = unstructure(state.location(customer, car.id))
        bodies.append((orjson.dumps(location), Location, False))
    return bodies


def _dt(value: Any) -> dict[str, Any]:
    return {**PRODUCT_JSON, "dongleTerminationTimeStamp": value}


EDGES: list[tuple[Any, type[Any]]] = [
    # nulls, absent and unknown fields
    ({**CAR_JSON, "description": None, "vin": None, "model": None}, Car),
    ({"id": 1, "name": "bare"}, Car),
    ({**CAR_JSON, "color": "red", "extra": {"nested": [1, 2]}, "licensePlate": "X"}, Car),
    ({"id": 1, "emailAddress": "a@b"}, User),
    ({"id": 1, "emailAddress": "a@b", "userData": None}, User),
    ({"id": 1, "emailAddress": "a@b", "userData": {}}, User),
    ({"id": 1, "emailAddress": "a@b", "userData": {"firstName": "A", "x": 1}}, User),
    ({**SERVICE_JSON, "terminationDate": None, "terminationCause": None}, Service),
    ({**PRODUCT_JSON, "dongleTerminationTimeStamp": None}, Product),
    ({"id": 5}, CreatedId),
    # numbers the converter accepts in another form
    ({**CAR_JSON, "id": 7.0}, Car),
    ({**CAR_JSON, "id": 2**63}, Car),
    ({**CAR_JSON, "id": -(2**63) - 1}, Car),
    ({**CAR_JSON, "id": 2**63 - 1}, Car),
    # date-times: naive (read as UTC), offsets, fractions, forms the parsers read differently
    (_dt("2024-05-01T10:00:00"), Product),
    (_dt("2024-05-01T10:00:00.5Z"), Product),
    (_dt("2024-05-01T10:00:00.123456+05:30"), Product),
    (_dt("2024-05-01T10:00:00.1234567Z"), Product),
    (_dt("2024-05-01t10:00:00z"), Product),
    (_dt("2024-05-01 10:00:00Z"), Product),
    (_dt("2024-05-01T10:00Z"), Product),
    (_dt("2024-05-01T10:00:00-00:00"), Product),
    (_dt("2024-05-01T10:00:00+0200"), Product),
    (_dt("2024-02-30T10:00:00Z"), Product),
    (_dt("2024-05-01T24:00:00Z"), Product),
    (_dt("2024-05-01"), Product),
    (_dt("yesterday"), Product),
    (_dt(5), Product),
    ({**SERVICE_JSON, "terminationDate": "2024-06-30T00:00:00"}, Service),
    # bad types and shapes
    ({**CAR_JSON, "id": True}, Car),
    ({**CAR_JSON, "id": 1.5}, Car),
    ({**CAR_JSON, "id": "7"}, Car),
    ({**CAR_JSON, "name": None}, Car),
    ({**CAR_JSON, "brand": 3}, Car),
    ({"name": "no id"}, Car),
    ({**PRODUCT_JSON, "type": "flinkey Zero"}, Product),
    ({**SERVICE_JSON, "isTerminated": "yes"}, Service),
    ({**SERVICE_JSON, "isTerminated": 1}, Service),
    ({**USER_JSON, "userData": {"firstName": 1}}, User),
    ({**USER_JSON, "userData": []}, User),
    ("not an object", Car),
    (None, Car),
    ([CAR_JSON], Car),
    # numbers sent as strings, or not
    ({"latitude": "52.5", "longitude": 13, "date": "2024-05-01T12:00:00"}, Location),
    ({"latitude": 52.5, "longitude": -13, "odometer": "1e3", "odometerDate": None}, Location),
    ({"latitude": " 52.5 ", "longitude": "1_000", "odometer": "nan"}, Location),
    ({"latitude": "north"}, Location),
    ({"latitude": True}, Location),
    ({"latitude": [52]}, Location),
    ({}, Location),
    # the converter only
    ({"access_token": "t", "expires_in": "60"}, Token),
]

NOT_JSON = [b"", b"{", b'{"id":1}x', b"\xef\xbb\xbf{}", b'{"id":NaN}', b'{"name":"\\ud800"}']


def _outcome(decoder: Any) -> tuple[str, Any]:
    try:
        return "value", decoder()
    except DecodeError as exc:
        return type(exc).__name__, exc.path


def _reference(payload: bytes, cls: type[Any], many: bool) -> tuple[str, Any]:
    def run() -> Any:
        try:
            data = _json.loads(payload)
        except ValueError as exc:
            raise DecodeError("the body is not JSON") from exc
        return structure_list(data, cls) if many else structure(data, cls)

    return _outcome(run)


def _both(payload: bytes, cls: type[Any], many: bool) -> None:
    expected = _reference(payload, cls, many)
    got = _outcome(lambda: decode_list(payload, cls) if many else decode(payload, cls))
    # repr: the same values down to the types they hold (and a NaN equal to itself)
    assert (got[0], repr(got[1])) == (expected[0], repr(expected[1])), payload
    if got[0] == "value":
        values = got[1] if many else [got[1]]
        assert all(type(value) is cls for value in values)


def test_fleet_bodies_decode_alike_and_through_msgspec() -> None:
    for payload, cls, many in _fleet_bodies():
        _both(payload, cls, many)
        # msgspec itself took these: the corpus does exercise the fast path
        fast = _msgspec.decoder_for(cls, many)
        assert fast is not None
        assert fast(payload) == (structure_list if many else structure)(orjson.loads(payload), cls)


@pytest.mark.parametrize(("data", "cls"), EDGES)
def test_edge_cases_decode_alike(data: Any, cls: type[Any]) -> None:
    _both(json.dumps(data).encode(), cls, False)
    _both(json.dumps([data, data]).encode(), cls, True)


@pytest.mark.parametrize("payload", NOT_JSON)
def test_not_json_alike(payload: bytes) -> None:
    _both(payload, Car, False)
    _both(payload, Car, True)


def test_edge_cases_reach_both_sides() -> None:
    """Some edge bodies are taken by msgspec, some refused (and then decided by the converter)."""
    taken = refused = 0
    for data, cls in EDGES:
        fast = _msgspec.decoder_for(cls, False)
        if fast is None:
            continue
        try:
            fast(json.dumps(data).encode())
            taken += 1
        except _msgspec.errors:
            refused += 1
    assert taken >= 10
    assert refused >= 20


def test_without_msgspec_the_converter_decodes() -> None:
    code = (
        "import sys\n"
        "sys.modules['msgspec'] = None\n"
        "from flinkey_async import Car\n"
        "from flinkey_async._converter import decode_list, _fast_decoders\n"
        'cars = decode_list(b\'[{"id": 1, "name": "a"}]\', Car)\n'
        "assert cars == [Car(1, 'a')], cars\n"
        "assert _fast_decoders == {(Car, True): None}\n"
        "assert 'flinkey_async._msgspec' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_import_does_not_load_msgspec() -> None:
    code = "import sys, flinkey_async\nassert 'msgspec' not in sys.modules\n"
    subprocess.run([sys.executable, "-c", code], check=True)
