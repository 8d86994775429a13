"""JSON bytes straight into the models with msgspec, when it is installed (the ``speed`` extra).

msgspec decodes attrs classes, but by attribute name, and the wire is camelCase. So each model
gets a mirror: a msgspec ``Struct`` with the model's fields, renamed to their wire names, that
msgspec fills from the bytes in C; ``msgspec.convert(..., from_attributes=True)`` then builds the
attrs model itself from the mirror, also in C.

The mirrors accept only what :mod:`flinkey_async._converter` turns into the very same value:
exact JSON types, 64-bit ints (which orjson reads exactly), ``date-time`` strings in the
RFC 3339 form both parsers read alike (with an offset: a naive one is the converter's to read as
UTC). Anything else makes msgspec refuse, and :func:`flinkey_async._converter.decode` hands the
body to the converter, which decides: the value it builds, or the :class:`DecodeError` naming the
field. Models holding the numbers the service sends as strings (``Location``), and ``Token``,
have no mirror and always take the converter.

The one known difference: a number beyond a double's range in a field the models do not read is
skipped here, while ``orjson.loads`` refuses the whole body (the standard library reads it as
infinity).
"""

from __future__ import annotations

import enum
import functools
import types
from datetime import datetime
from typing import Annotated, Any, TypeVar, Union, get_args, get_origin

import attrs
import msgspec

from ._models import Car, CreatedId, Customer, Group, Product, Service, User, UserData, wire_name

__all__ = ["decoder_for", "errors"]

T = TypeVar("T")

errors: tuple[type[Exception], ...] = (msgspec.ValidationError, msgspec.DecodeError)
"""What msgspec raises for a body it does not take (the converter then decides)."""

MODELS: frozenset[type[Any]] = frozenset(
    {Car, CreatedId, Customer, Group, Product, Service, User, UserData}
)
"""The models with a mirror; the others always take the converter."""

_INT = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]
_DATE_TIME = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^\d{4}-\d\d-\d\dT(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d{1,6})?"
        r"(?:Z|[+-](?:[01]\d|2[0-3]):[0-5]\d)$"
    ),
]

_mirrors: dict[type[Any], type[msgspec.Struct]] = {}
_decoders: dict[Any, Any] = {}


def _mirror_type(type_: Any) -> Any:
    if type_ is int:
        return _INT
    if type_ in (str, bool) or (isinstance(type_, type) and issubclass(type_, enum.Enum)):
        return type_
    if type_ is datetime:
        return _DATE_TIME
    if type_ in MODELS:
        return _mirror(type_)
    if get_origin(type_) in (Union, types.UnionType):
        args = get_args(type_)
        if len(args) == 2 and type(None) in args:
            (inner,) = (arg for arg in args if arg is not type(None))
            return _mirror_type(inner) | None
    raise TypeError(f"no mirror for {type_!r}")  # pragma: no cover - MODELS are all covered


def _mirror(cls: type[Any]) -> type[msgspec.Struct]:
    """The Struct that reads ``cls`` from its wire form (made once per model)."""
    mirror = _mirrors.get(cls)
    if mirror is None:
        fields: list[tuple[str, Any] | tuple[str, Any, Any]] = []
        for field in attrs.fields(attrs.resolve_types(cls)):
            kind = _mirror_type(field.type)
            if field.default is attrs.NOTHING:
                fields.append((field.name, kind))
            elif attrs.has(type(field.default)):
                # A nested model's default (User.user_data): absent reads as the same values in
                # its mirror; null is the converter's to read.
                same = functools.partial(kind, **attrs.asdict(field.default, recurse=False))
                fields.append((field.name, kind, msgspec.field(default_factory=same)))
            else:
                fields.append((field.name, kind, field.default))
        mirror = msgspec.defstruct(
            f"_{cls.__name__}Wire",
            fields,
            rename={field.name: wire_name(field.name) for field in attrs.fields(cls)},
            module=__name__,
            gc=False,
        )
        _mirrors[cls] = mirror
    return mirror


def decoder_for(cls: type[Any], many: bool) -> Any:
    """A function ``bytes -> cls`` (or ``-> list[cls]``) for a model with a mirror; else None.

    It raises one of :data:`errors` for a body the mirror does not take.
    """
    key = (cls, many)
    decode = _decoders.get(key)
    if decode is None and cls in MODELS:
        mirror = _mirror(cls)
        read = msgspec.json.Decoder(list[mirror] if many else mirror).decode  # type: ignore[valid-type]
        target: Any = list[cls] if many else cls  # type: ignore[valid-type]
        convert = msgspec.convert

        def decode(payload: bytes) -> Any:
            return convert(read(payload), target, from_attributes=True)

        _decoders[key] = decode
    return decode
