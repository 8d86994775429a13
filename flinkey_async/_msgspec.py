"""JSON bytes straight into the models with msgspec, when it is installed (the ``speed`` extra).

msgspec reads attrs classes only by attribute name, and the wire is camelCase; and its
``convert`` costs some 3 µs a call, more than decoding a small body. So each model gets a mirror,
a msgspec ``Struct`` with the model's fields renamed to their wire names, that msgspec fills from
the bytes in C with the exact JSON types checked; a generated builder then makes the model from
the mirror the way the converter does (through the slot twin of
:func:`flinkey_async._converter._slot_twin`), with the converter's own functions for what msgspec
would read differently: date-times (:func:`~flinkey_async._converter.parse_datetime`, a naive
one read as UTC) and the numbers the service sends as strings (``float``).

The mirrors accept only what the converter turns into the same value: exact JSON types, and ints
within 64 bits (which ``orjson.loads`` reads exactly). Anything else raises one of
:data:`errors`, and :func:`flinkey_async._converter.decode` hands the body to the converter,
which decides: the value it builds, or the :class:`DecodeError` naming the field. ``Token`` has
no mirror and always takes the converter.

The one known difference: a number beyond a double's range in a field the models do not read is
skipped here, while ``orjson.loads`` refuses the whole body (the standard library reads it as
infinity).
"""

from __future__ import annotations

import enum
import functools
import types
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Union, get_args, get_origin

import attrs
import msgspec

from ._converter import _slot_twin as slot_twin
from ._converter import parse_datetime
from ._models import (
    Car,
    CreatedId,
    Customer,
    Group,
    Location,
    Product,
    Service,
    User,
    UserData,
    wire_name,
)

__all__ = ["decoder_for", "errors"]

errors: tuple[type[Exception], ...] = (msgspec.MsgspecError, ValueError)
"""What a body the mirrors do not take raises (the converter then decides)."""

MODELS: frozenset[type[Any]] = frozenset(
    {Car, CreatedId, Customer, Group, Location, Product, Service, User, UserData}
)
"""The models with a mirror; the others always take the converter."""

_INT = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]
_NUMBER_AS_STRING = frozenset({(Location, "latitude"), (Location, "longitude"),
                               (Location, "odometer")})  # fmt: skip

_Built = tuple[type[msgspec.Struct], Callable[[Any], Any], Callable[[Any], list[Any]]]
_built: dict[type[Any], _Built] = {}
_decoders: dict[tuple[type[Any], bool], Callable[[bytes], Any] | None] = {}


def _field_plan(cls: type[Any], name: str, type_: Any) -> tuple[Any, str | None]:
    """The mirror's type for a field, and the function (by name) its value goes through."""
    optional = False
    if get_origin(type_) in (Union, types.UnionType):
        args = get_args(type_)
        if len(args) != 2 or type(None) not in args:  # pragma: no cover - not in the models
            raise TypeError(f"no mirror for {type_!r}")
        (type_,) = (arg for arg in args if arg is not type(None))
        optional = True
    convert: str | None = None
    if (cls, name) in _NUMBER_AS_STRING:
        kind: Any = str | float
        convert = "_float"
    elif type_ is int:
        kind = _INT
    elif type_ in (str, bool) or (isinstance(type_, type) and issubclass(type_, enum.Enum)):
        kind = type_
    elif type_ is datetime:
        kind = str
        convert = "_parse_datetime"
    elif type_ in MODELS:
        kind = _mirror_and_builder(type_)[0]
        convert = f"_build_{type_.__name__}"
    else:  # pragma: no cover - every field of MODELS is covered above
        raise TypeError(f"no mirror for {type_!r}")
    return (kind | None if optional else kind), convert


def _mirror_and_builder(cls: type[Any]) -> _Built:
    """The Struct that reads ``cls`` from the wire, and the functions building ``cls`` (and a
    list of them) from it."""
    done = _built.get(cls)
    if done is not None:
        return done
    fields: list[tuple[str, Any] | tuple[str, Any, Any]] = []
    namespace: dict[str, Any] = {
        "_cls": cls,
        "_parse_datetime": parse_datetime,
        "_float": float,
    }
    values: list[str] = []
    for field in attrs.fields(attrs.resolve_types(cls)):
        kind, convert = _field_plan(cls, field.name, field.type)
        if convert is not None and convert.startswith("_build_"):
            namespace[convert] = _mirror_and_builder(field.type)[1]
        if field.default is attrs.NOTHING:
            fields.append((field.name, kind))
        elif attrs.has(type(field.default)):
            # A nested model's default (User.user_data): absent reads as the same values in its
            # mirror; null is the converter's to read.
            same = functools.partial(kind, **attrs.asdict(field.default, recurse=False))
            fields.append((field.name, kind, msgspec.field(default_factory=same)))
        else:
            fields.append((field.name, kind, field.default))
        read = f"s.{field.name}"
        if convert is None:
            values.append(read)
        elif get_origin(kind) in (Union, types.UnionType) and type(None) in get_args(kind):
            values.append(f"(None if (v := {read}) is None else {convert}(v))")
        else:
            values.append(f"{convert}({read})")
    mirror = msgspec.defstruct(
        f"_{cls.__name__}Wire",
        fields,
        rename={field.name: wire_name(field.name) for field in attrs.fields(cls)},
        module=__name__,
        gc=False,
    )
    twin = slot_twin(cls)
    if twin is None:
        lines, result = [], f"_cls({', '.join(values)})"
    else:
        namespace["_twin"] = twin
        lines = ["o = _twin()"]
        lines += [f"o.{f.name} = {v}" for f, v in zip(attrs.fields(cls), values, strict=True)]
        lines, result = [*lines, "o.__class__ = _cls"], "o"
    one = "".join(f"    {line}\n" for line in lines)
    many = "".join(f"        {line}\n" for line in lines)
    source = (
        f"def build(s):\n{one}    return {result}\n"
        "def build_many(items):\n"
        "    out = []\n"
        "    append = out.append\n"
        "    for s in items:\n"
        f"{many}        append({result})\n"
        "    return out\n"
    )
    exec(compile(source, f"<build {cls.__name__}>", "exec"), namespace)
    done = _built[cls] = (mirror, namespace["build"], namespace["build_many"])
    return done


def decoder_for(cls: type[Any], many: bool) -> Callable[[bytes], Any] | None:
    """A function ``bytes -> cls`` (or ``-> list[cls]``) for a model with a mirror; else None.

    It raises one of :data:`errors` for a body the mirror does not take.
    """
    key = (cls, many)
    if key in _decoders:
        return _decoders[key]
    decode: Callable[[bytes], Any] | None = None
    if cls in MODELS:
        mirror, build, build_many = _mirror_and_builder(cls)
        if many:
            read_many = msgspec.json.Decoder(list[mirror]).decode  # type: ignore[valid-type]

            def decode(payload: bytes) -> Any:
                return build_many(read_many(payload))
        else:
            read = msgspec.json.Decoder(mirror).decode

            def decode(payload: bytes) -> Any:
                return build(read(payload))

    _decoders[key] = decode
    return decode
