"""A seeded, deterministic fleet: same seed and sizes, same customers, cars, products and history.

The values look like a real German fleet so that clients are exercised with realistic data:
VINs with a correct ISO 3779 check digit and a manufacturer prefix that fits the brand, licence
plates like ``M-AB 1234`` whose district fits the city the car drives around, real brand/model
pairs, flinkey Box and flinkey IQ products, active and terminated flinkey Go services, groups
with members, and GPS/odometer histories recorded by the flinkey IQ.

Determinism: everything comes from ``random.Random`` seeded with a string built from the seed
(string seeds are hashed with SHA-512, stable across processes and Python versions), and the
timestamps are relative to a fixed reference time rather than to "now".
"""

from __future__ import annotations

import random
import string
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Final

import attrs

from .. import _api
from .._models import Car, Product, ProductType, Service, User
from ._defaults import DEFAULT_CARS, DEFAULT_CUSTOMERS, DEFAULT_SEED
from ._state import OdometerReading, Position, SandboxState, nearest

__all__ = [
    "BRANDS",
    "HISTORY_DAYS",
    "REFERENCE_TIME",
    "FleetSpec",
    "GeneratedHistories",
    "generate",
    "is_valid_vin",
    "make_vin",
    "vin_check_digit",
]

REFERENCE_TIME: Final = datetime(2025, 6, 2, 8, 0, 0, tzinfo=UTC)
"""The generated fleet's "now": the newest recording is at most this recent."""

# -- VIN (ISO 3779 / 49 CFR 565) ----------------------------------------------------------------

_VIN_ALPHABET: Final = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"  # no I, O, Q
_VIN_VALUES: Final = {
    **{str(d): d for d in range(10)},
    **dict(zip("ABCDEFGH", range(1, 9), strict=True)),
    **dict(zip("JKLMN", range(1, 6), strict=True)),
    "P": 7,
    "R": 9,
    **dict(zip("STUVWXYZ", range(2, 10), strict=True)),
}
_VIN_WEIGHTS: Final = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)
_MODEL_YEARS: Final = "ABCDEFGHJKLMNPRS"  # 2010 ... 2025


def vin_check_digit(vin: str) -> str:
    """The check digit (position 9) of a 17-character VIN: ``0``-``9`` or ``X``."""
    if len(vin) != 17:
        raise ValueError(f"a VIN has 17 characters, got {len(vin)}")
    try:
        pairs = zip(vin, _VIN_WEIGHTS, strict=True)
        total = sum(_VIN_VALUES[char] * weight for char, weight in pairs)
    except KeyError as exc:
        raise ValueError(f"invalid VIN character {exc.args[0]!r}") from None
    remainder = total % 11
    return "X" if remainder == 10 else str(remainder)


def is_valid_vin(vin: str) -> bool:
    """True for a 17-character VIN of allowed characters whose check digit is right."""
    if len(vin) != 17 or any(char not in _VIN_ALPHABET for char in vin):
        return False
    return vin[8] == vin_check_digit(vin)


def make_vin(rng: random.Random, wmi: str) -> str:
    """A valid VIN: manufacturer prefix, descriptor, check digit, model year, plant, serial."""
    descriptor = "".join(rng.choice(_VIN_ALPHABET) for _ in range(5))
    year = rng.choice(_MODEL_YEARS[6:])  # 2016 ... 2025
    plant = rng.choice(_VIN_ALPHABET)
    serial = f"{rng.randrange(1_000_000):06d}"
    draft = f"{wmi}{descriptor}0{year}{plant}{serial}"
    return draft[:8] + vin_check_digit(draft) + draft[9:]


# -- reference tables ----------------------------------------------------------------------------

BRANDS: Final[tuple[tuple[str, str, tuple[str, ...]], ...]] = (
    # (brand, world manufacturer identifier, models)
    ("Volkswagen", "WVW", ("Golf", "Polo", "Passat", "Tiguan", "ID.3", "ID.4", "T-Roc")),
    ("Volkswagen Nutzfahrzeuge", "WV2", ("Transporter", "Caddy", "Crafter", "ID. Buzz")),
    ("BMW", "WBA", ("1 Series", "3 Series", "5 Series", "X1", "X3", "i4", "iX3")),
    ("Mercedes-Benz", "W1K", ("A-Class", "C-Class", "E-Class", "EQA", "EQE")),
    ("Mercedes-Benz Vans", "W1V", ("Sprinter", "Vito", "eVito", "Citan")),
    ("Audi", "WAU", ("A3", "A4", "A6", "Q3", "Q5", "Q4 e-tron")),
    ("Opel", "W0L", ("Corsa", "Astra", "Mokka", "Vivaro", "Combo")),
    ("Ford", "WF0", ("Fiesta", "Focus", "Kuga", "Transit", "Transit Custom")),
    ("Skoda", "TMB", ("Fabia", "Octavia", "Superb", "Kodiaq", "Enyaq")),
    ("Seat", "VSS", ("Ibiza", "Leon", "Arona")),
    ("Renault", "VF1", ("Clio", "Megane", "Zoe", "Kangoo", "Master")),
    ("Peugeot", "VF3", ("208", "308", "2008", "Partner", "Expert")),
    ("Fiat", "ZFA", ("500", "Panda", "Tipo", "Ducato")),
    ("Toyota", "SB1", ("Yaris", "Corolla", "C-HR", "RAV4", "Proace")),
    ("Hyundai", "TMA", ("i20", "i30", "Kona", "Tucson", "Ioniq 5")),
    ("Kia", "U5Y", ("Ceed", "Niro", "Sportage", "EV6")),
    ("Volvo", "YV1", ("XC40", "XC60", "V60", "EX30")),
    ("Tesla", "XP7", ("Model 3", "Model Y")),
)

# (district code of the plate, city, latitude, longitude)
_CITIES: Final = (
    ("M", "Munich", 48.1374, 11.5755),
    ("B", "Berlin", 52.5200, 13.4050),
    ("HH", "Hamburg", 53.5511, 9.9937),
    ("K", "Cologne", 50.9375, 6.9603),
    ("F", "Frankfurt", 50.1109, 8.6821),
    ("S", "Stuttgart", 48.7758, 9.1829),
    ("D", "Düsseldorf", 51.2277, 6.7735),
    ("L", "Leipzig", 51.3397, 12.3731),
    ("N", "Nuremberg", 49.4521, 11.0767),
    ("H", "Hanover", 52.3759, 9.7320),
    ("HB", "Bremen", 53.0793, 8.8017),
    ("DD", "Dresden", 51.0504, 13.7373),
    ("KA", "Karlsruhe", 49.0069, 8.4037),
    ("A", "Augsburg", 48.3705, 10.8978),
    ("W", "Wuppertal", 51.2562, 7.1508),
)

_CUSTOMER_NAMES: Final = (
    "Stadtwerke Musterstadt GmbH",
    "Autohaus Beispiel KG",
    "CarSharing Nord GmbH",
    "Pflegedienst Sonnenschein e.V.",
    "Logistik Süd AG",
    "Handwerk Meier & Söhne GmbH",
    "Mobilpool Rhein-Main GmbH",
    "Kurierdienst Blitz GmbH",
)

_FIRST_NAMES: Final = (
    "Anna", "Lukas", "Mia", "Leon", "Emma", "Finn", "Hannah", "Jonas", "Lena", "Paul",
    "Sophie", "Felix", "Laura", "Maximilian", "Marie", "Elias", "Julia", "Noah", "Lea", "Ben",
    "Sarah", "Tim", "Katharina", "Jan", "Zeynep", "Mehmet", "Aleksandra", "Piotr", "Chiara",
)  # fmt: skip
_LAST_NAMES: Final = (
    "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker",
    "Schulz", "Hoffmann", "Koch", "Richter", "Klein", "Wolf", "Schröder", "Neumann",
    "Schwarz", "Zimmermann", "Braun", "Krüger", "Hofmann", "Hartmann", "Lange", "Yilmaz",
    "Kowalski", "Rossi", "Nowak", "Schmitt", "Werner", "Krause",
)  # fmt: skip
_EMAIL_FOLD: Final = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", " ": ""})

_GROUP_NAMES: Final = (
    "Pool cars", "Sales team", "Service vans", "Management", "Night shift", "Weekend pool",
    "Electric vehicles", "Trainees", "Field service north", "Field service south",
    "Long-term rental", "Workshop", "Delivery", "Guests", "Care team",
)  # fmt: skip

_DESCRIPTIONS: Final = (
    None, None, None,
    "Pool vehicle, main office", "Delivery van, depot 2", "Executive car",
    "Replacement car during workshop visits", "Field service, tools on board",
    "Car sharing, station Hauptbahnhof", "Winter tyres fitted", "Leasing until 2027",
)  # fmt: skip

_SERVICE_PLANS: Final = ("flinkey Go", "flinkey Go Business", "flinkey Go Fleet")
_TERMINATION_CAUSES: Final = (
    "Contract cancelled by customer",
    "Vehicle sold",
    "Hardware returned",
    "Payment overdue",
    "Contract expired",
)
_SAP_NUMBERS: Final = {
    ProductType.BOX: ("2080101", "2080102", "2080215"),
    ProductType.IQ: ("2090311", "2090312"),
}
_SERIAL_PREFIX: Final = {ProductType.BOX: "FB", ProductType.IQ: "FIQ"}


@attrs.frozen(slots=True)
class FleetSpec:
    """What to generate: the seed and how many entities of each kind *per customer*.

    ``None`` for products, services, groups or users means a size that fits the number of cars:
    about 1.6 products per car, services for most products, a group per 20 cars, a user per 2.
    """

    seed: int = DEFAULT_SEED
    customers: int = DEFAULT_CUSTOMERS
    cars: int = DEFAULT_CARS
    products: int | None = None
    services: int | None = None
    groups: int | None = None
    users: int | None = None
    reference_time: datetime = REFERENCE_TIME

    def __attrs_post_init__(self) -> None:
        if self.customers < 1:
            raise ValueError("customers must be at least 1")
        for name in ("cars", "products", "services", "groups", "users"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"{name} must not be negative")
        if self.reference_time.tzinfo is None:
            raise ValueError("reference_time must be timezone-aware")

    @property
    def product_count(self) -> int:
        return self.products if self.products is not None else (self.cars * 8 + 4) // 5

    @property
    def service_count(self) -> int:
        return self.services if self.services is not None else (self.product_count * 4) // 5

    @property
    def group_count(self) -> int:
        return self.groups if self.groups is not None else max(3, self.cars // 20)

    @property
    def user_count(self) -> int:
        return self.users if self.users is not None else max(5, self.cars // 2)


def generate(spec: FleetSpec) -> SandboxState:
    """A fleet for ``spec``: the same spec always yields the same state."""
    histories = GeneratedHistories(spec.seed, spec.reference_time)
    state = SandboxState(history_source=histories)
    for index in range(spec.customers):
        rng = random.Random(f"{spec.seed}/customer/{index}")
        _populate(state, rng, spec, index, histories.homes)
    return state


def _populate(
    state: SandboxState,
    rng: random.Random,
    spec: FleetSpec,
    index: int,
    homes: dict[int, tuple[float, float]],
) -> None:
    name = _CUSTOMER_NAMES[index % len(_CUSTOMER_NAMES)]
    if index >= len(_CUSTOMER_NAMES):
        name = f"{name} ({index // len(_CUSTOMER_NAMES) + 1})"
    customer = state.add_customer(name)
    cid = customer.id
    now = spec.reference_time
    # Each customer is based in two or three cities; its cars mostly drive there.
    cities = rng.sample(_CITIES, k=min(len(_CITIES), rng.randint(2, 3)))

    plates: set[str] = set()
    car_ids: list[int] = []
    car_homes: dict[int, tuple[float, float]] = {}
    for number in range(1, spec.cars + 1):
        brand, wmi, models = rng.choice(BRANDS)
        model = rng.choice(models)
        code, _, lat, lon = rng.choice(cities)
        plate = _plate(rng, code, plates)
        car = state.add_car(
            cid,
            f"{model} {number:04d}",
            description=rng.choice(_DESCRIPTIONS),
            vin=make_vin(rng, wmi) if rng.random() < 0.95 else None,
            license_plate=plate if rng.random() < 0.97 else None,
            brand=brand,
            model=model,
        )
        car_ids.append(car.id)
        car_homes[car.id] = (lat + rng.uniform(-0.05, 0.05), lon + rng.uniform(-0.08, 0.08))

    # Products: mount a Box and/or an IQ in cars while products remain; the rest are in stock.
    product_ids: list[int] = []
    remaining = spec.product_count
    serials = rng.sample(range(100_000, 1_000_000), k=min(900_000, spec.product_count))

    def new_product(kind: ProductType, car_id: int | None) -> None:
        serial = serials[len(product_ids)]
        year = rng.randint(2021, 2025)
        terminated = None
        if rng.random() < (0.4 if car_id is None else 0.04):
            terminated = now - timedelta(days=rng.randint(10, 700), seconds=rng.randrange(86_400))
        product = state.add_product(
            cid,
            kind,
            unique_id="".join(rng.choice("0123456789ABCDEF") for _ in range(12)),
            serial_number=f"{_SERIAL_PREFIX[kind]}{year}-{serial:06d}",
            sap_number=rng.choice(_SAP_NUMBERS[kind]),
            dongle_termination_time_stamp=terminated,
            car_id=car_id,
        )
        product_ids.append(product.id)

    for car_id in car_ids:
        for kind, share in ((ProductType.BOX, 0.7), (ProductType.IQ, 0.65)):
            if remaining and rng.random() < share:
                new_product(kind, car_id)
                remaining -= 1
                if kind is ProductType.IQ:  # only a flinkey IQ records a history
                    homes[car_id] = car_homes[car_id]
    while remaining:
        new_product(rng.choice((ProductType.BOX, ProductType.IQ)), None)
        remaining -= 1

    # Services: most products have one; a few contracts are not bound to a product (yet).
    service_ids: list[int] = []
    bound = rng.sample(product_ids, k=min(len(product_ids), spec.service_count))
    for number in range(spec.service_count):
        product_id = bound[number] if number < len(bound) and rng.random() < 0.92 else None
        terminated = rng.random() < 0.22
        date = None
        if terminated:
            date = now - timedelta(days=rng.randint(1, 500), seconds=rng.randrange(86_400))
        service = state.add_service(
            cid,
            rng.choice(_SERVICE_PLANS),
            is_terminated=terminated,
            termination_date=date,
            termination_cause=rng.choice(_TERMINATION_CAUSES) if terminated else None,
            product_id=product_id,
        )
        service_ids.append(service.id)

    # Users of the customer.
    user_ids: list[int] = []
    domain = _domain(name)
    emails: set[str] = set()
    for _ in range(spec.user_count):
        first, last = rng.choice(_FIRST_NAMES), rng.choice(_LAST_NAMES)
        local = f"{first}.{last}".lower().translate(_EMAIL_FOLD)
        email = f"{local}@{domain}"
        suffix = 2
        while email in emails:
            email = f"{local}{suffix}@{domain}"
            suffix += 1
        emails.add(email)
        user = state.add_user(
            cid,
            email,
            first_name=first,
            last_name=last if rng.random() < 0.95 else None,
        )
        user_ids.append(user.id)

    # Groups, most with members of every kind; one stays empty so that it can be deleted.
    for number in range(spec.group_count):
        base = _GROUP_NAMES[number % len(_GROUP_NAMES)]
        round_ = number // len(_GROUP_NAMES)
        group_name = base if round_ == 0 else f"{base} {round_ + 1}"
        group = state.add_group(cid, group_name)
        if number == spec.group_count - 1 and spec.group_count > 1:
            continue
        pools: dict[type, list[int]] = {
            Car: car_ids,
            User: user_ids,
            Service: service_ids,
            Product: product_ids,
        }
        for member_kind in _api.GROUP_MEMBERS.values():
            for member_id in _some(rng, pools[member_kind.model]):
                state.add_member(cid, group.id, member_kind.segment, member_id)


def _some(rng: random.Random, pool: Sequence[int]) -> list[int]:
    if not pool:
        return []
    return rng.sample(pool, k=rng.randint(0, min(len(pool), 8)))


def _plate(rng: random.Random, code: str, taken: set[str]) -> str:
    """A German plate: district, one or two letters, a number (``M-AB 1234``), unique."""
    while True:
        letters = "".join(rng.choice(string.ascii_uppercase) for _ in range(rng.randint(1, 2)))
        # A German plate has at most 8 characters besides the separators.
        digits = rng.randint(1, 10 ** min(4, 8 - len(code) - len(letters)) - 1)
        plate = f"{code}-{letters} {digits}"
        if rng.random() < 0.08 and len(code) + len(letters) + len(str(digits)) < 8:
            plate += "E"  # electric vehicle
        if plate not in taken:
            taken.add(plate)
            return plate


def _domain(customer_name: str) -> str:
    word = customer_name.split()[0].lower().translate(_EMAIL_FOLD)
    return f"{''.join(c for c in word if c.isalnum())}.example.com"


HISTORY_DAYS: Final = 14
"""How many days before the reference time a generated car's flinkey IQ has recorded."""

_DAY: Final = timedelta(days=1)


class GeneratedHistories:
    """The recorded histories of a generated fleet, made a day at a time and only when asked.

    A history covers :data:`HISTORY_DAYS` days of 24 hours, the last one ending at the
    reference time. Each day has its own seed: two to five GPS fixes (a short random walk from
    a point near the car's home) at random seconds of the day. The odometer is read once a day
    and only grows, so its readings (fourteen numbers) are drawn together per car.

    So a car's latest location needs its last day and its readings only, and a location at a
    date needs the day of that date and its two neighbours: since every day has a fix, the fixes
    nearest to any instant before and after it are among those three. Days and readings are
    made once and kept; ``days_made`` counts the days generated, per car.
    """

    def __init__(self, seed: int, reference_time: datetime) -> None:
        self.seed = seed
        self.end = reference_time
        self.start = reference_time - HISTORY_DAYS * _DAY
        self.homes: dict[int, tuple[float, float]] = {}
        """Cars that record a history (those with a flinkey IQ), and where they are based."""
        self.days_made: Counter[int] = Counter()
        self._days: dict[tuple[int, int], list[Position]] = {}
        self._readings: dict[int, list[tuple[int, float]]] = {}

    def _day(self, car_id: int, index: int) -> list[Position]:
        key = (car_id, index)
        fixes = self._days.get(key)
        if fixes is None:
            fixes = self._days[key] = self._make_day(car_id, index)
            self.days_made[car_id] += 1
        return fixes

    def _make_day(self, car_id: int, index: int) -> list[Position]:
        home_lat, home_lon = self.homes[car_id]
        rng = random.Random(f"{self.seed}/history/{car_id}/{index}")
        draw, gauss = rng.random, rng.gauss
        day_start = self.start + index * _DAY
        lat = _clamp(home_lat + gauss(0, 0.05), home_lat, 0.4)
        lon = _clamp(home_lon + gauss(0, 0.075), home_lon, 0.6)
        seconds = sorted({1 + int(draw() * 86_399) for _ in range(2 + int(draw() * 4))})
        fixes = []
        for second in seconds:
            lat = _clamp(lat + gauss(0, 0.01), home_lat, 0.4)
            lon = _clamp(lon + gauss(0, 0.015), home_lon, 0.6)
            fixes.append(
                Position(day_start + timedelta(seconds=second), round(lat, 6), round(lon, 6))
            )
        return fixes

    def _odometer_values(self, car_id: int) -> list[tuple[int, float]]:
        """(second since the history's start, km) of each day's reading: plain numbers, cheap."""
        values = self._readings.get(car_id)
        if values is None:
            rng = random.Random(f"{self.seed}/odometer/{car_id}")
            draw = rng.random
            odometer = round(3_000 + draw() * 177_000, 1)
            values = []
            for index in range(HISTORY_DAYS):
                odometer = round(odometer + draw() * 180, 1)
                values.append((index * 86_400 + 1 + int(draw() * 86_399), odometer))
            self._readings[car_id] = values
        return values

    def _reading(self, value: tuple[int, float]) -> OdometerReading:
        return OdometerReading(self.start + timedelta(seconds=value[0]), value[1])

    def _odometer(self, car_id: int) -> list[OdometerReading]:
        return [self._reading(value) for value in self._odometer_values(car_id)]

    # -- HistorySource -----------------------------------------------------------------------

    def full(self, car_id: int) -> tuple[list[Position], list[OdometerReading]]:
        if car_id not in self.homes:  # a car created later, or without a flinkey IQ
            return [], []
        positions = [fix for day in range(HISTORY_DAYS) for fix in self._day(car_id, day)]
        return positions, list(self._odometer(car_id))

    def latest(self, car_id: int) -> tuple[Position | None, OdometerReading | None]:
        if car_id not in self.homes:
            return None, None
        last_reading = self._reading(self._odometer_values(car_id)[-1])
        return self._day(car_id, HISTORY_DAYS - 1)[-1], last_reading

    def nearest(self, car_id: int, at: datetime) -> tuple[Position | None, OdometerReading | None]:
        if car_id not in self.homes:
            return None, None
        day = min(max((at - self.start) // _DAY, 0), HISTORY_DAYS - 1)
        around = range(max(day - 1, 0), min(day + 2, HISTORY_DAYS))
        candidates = [fix for index in around for fix in self._day(car_id, index)]
        return nearest(candidates, at), nearest(self._odometer(car_id), at)


def _clamp(value: float, centre: float, radius: float) -> float:
    return min(max(value, centre - radius), centre + radius)
