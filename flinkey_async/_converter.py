"""The one cattrs converter: JSON shapes <-> the attrs models.

camelCase keys map to snake_case attributes; ``date-time`` strings become timezone-aware
``datetime`` (a string without an offset is taken as UTC); the numbers the service sends as
strings (latitude, longitude, odometer) become ``float``; unknown keys are ignored, because the
live service may add fields.

Speed matters here: a fleet list is thousands of objects. The converter is built without cattrs'
detailed validation, and primitives go through hooks that only check the type. When a payload does
not fit, :func:`structure` walks it again to name the field that broke (``[3].licensePlate``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from ._exceptions import DecodeError
from ._models import (
    Car,
    CreatedId,
    Customer,
    Group,
    Location,
    Product,
    ProductType,
    Service,
    Token,
    User,
    UserData,
    wire_name,
)

__all__ = [
    "converter",
    "format_datetime",
    "parse_datetime",
    "structure",
    "structure_list",
    "unstructure",
]

T = TypeVar("T")

_CAMEL_MODELS: tuple[type[Any], ...] = (
    Car,
    Product,
    Service,
    Group,
    UserData,
    User,
    Location,
    Customer,
    CreatedId,
)
_NUMBER_AS_STRING_FIELDS = frozenset({"latitude", "longitude", "odometer"})


class _PayloadTypeError(TypeError):
    pass


def parse_datetime(value: str) -> datetime:
    """An ISO 8601 / RFC 3339 timestamp as an aware datetime; no offset means UTC."""
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed


def format_datetime(value: datetime) -> str:
    """An aware datetime as the service writes it: ISO 8601, ``Z`` for UTC."""
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _expect(kind: type[Any]) -> Callable[[Any, Any], Any]:
    def hook(value: Any, _: Any) -> Any:
        if value.__class__ is kind:
            return value
        if kind is int and isinstance(value, float) and value.is_integer():
            return int(value)
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        raise _PayloadTypeError(f"expected {kind.__name__}, got {type(value).__name__}")

    return hook


def _optional(inner: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    def hook(value: Any, type_: Any) -> Any:
        return None if value is None else inner(value, type_)

    return hook


def _structure_datetime(value: Any, _: Any) -> datetime:
    if value.__class__ is not str:
        raise _PayloadTypeError(f"expected a date-time string, got {type(value).__name__}")
    return parse_datetime(value)


def _structure_number(value: Any, _: Any) -> float:
    # The service sends these as strings ("format": "double"); accept real numbers too.
    if isinstance(value, bool):
        raise _PayloadTypeError("expected a number, got bool")
    return float(value)


def _structure_expires_in(value: Any, _: Any) -> float:
    if isinstance(value, bool):
        raise _PayloadTypeError("expected a number of seconds, got bool")
    return float(value)


def _unstructure_datetime(value: datetime) -> str:
    return format_datetime(value)


def _build_converter() -> cattrs.Converter:
    conv = cattrs.Converter(detailed_validation=False, forbid_extra_keys=False)
    for kind in (str, int, bool):
        conv.register_structure_hook(kind, _expect(kind))
        conv.register_structure_hook(kind | None, _optional(_expect(kind)))
    conv.register_structure_hook(datetime, _structure_datetime)
    conv.register_structure_hook(datetime | None, _optional(_structure_datetime))
    conv.register_structure_hook(float | None, _optional(_structure_number))
    conv.register_unstructure_hook(datetime, _unstructure_datetime)
    conv.register_structure_hook(ProductType, lambda value, _: ProductType(value))
    conv.register_unstructure_hook(ProductType, lambda value: value.value)

    for model in _CAMEL_MODELS:
        renames = {
            field.name: override(rename=wire_name(field.name)) for field in attrs.fields(model)
        }
        structure_fn = make_dict_structure_fn(
            model, conv, _cattrs_detailed_validation=False, **renames  # type: ignore[arg-type]
        )
        conv.register_structure_hook(model, structure_fn)
        unstructure_renames = dict(renames)
        if model is Location:
            for name in _NUMBER_AS_STRING_FIELDS:
                unstructure_renames[name] = override(
                    rename=wire_name(name),
                    unstruct_hook=lambda value: None if value is None else repr(float(value)),
                )
        conv.register_unstructure_hook(
            model, make_dict_unstructure_fn(model, conv, **unstructure_renames)
        )

    token_overrides = {"expires_in": override(struct_hook=_structure_expires_in)}
    token_fn = make_dict_structure_fn(
        Token, conv, _cattrs_detailed_validation=False, **token_overrides  # type: ignore[arg-type]
    )
    conv.register_structure_hook(Token, token_fn)
    return conv


converter = _build_converter()


def _locate(data: Any, cls: type[Any], path: str) -> tuple[str, str]:
    """Find the first field of ``data`` that does not fit ``cls``: (path, reason)."""
    if not isinstance(data, Mapping):
        return path or "$", f"expected an object for {cls.__name__}, got {type(data).__name__}"
    for field in attrs.fields(cls):
        key = field.name if cls is Token else wire_name(field.name)
        here = f"{path}.{key}"
        if key not in data:
            if field.default is attrs.NOTHING:
                return here, "required field is missing"
            continue
        value = data[key]
        if attrs.has(field.type) if isinstance(field.type, type) else False:
            found = _locate(value, field.type, here)
            if found[1]:
                return found
            continue
        try:
            converter.structure(value, field.type)
        except Exception as exc:  # any failure names this field
            return here, str(exc) or type(exc).__name__
    return path, ""


def _decode_error(data: Any, cls: type[Any], exc: Exception, prefix: str = "") -> DecodeError:
    path, reason = _locate(data, cls, prefix)
    return DecodeError(reason or str(exc) or type(exc).__name__, path=path.lstrip(".") or "$")


def structure(data: Any, cls: type[T]) -> T:
    """One JSON object as ``cls``; a body that does not fit raises :class:`DecodeError`."""
    try:
        return converter.structure(data, cls)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise _decode_error(data, cls, exc) from exc


def structure_list(data: Any, cls: type[T]) -> list[T]:
    """A JSON array of objects as a list of ``cls``."""
    if not isinstance(data, list):
        raise DecodeError(f"expected an array, got {type(data).__name__}", path="$")
    hook = converter.get_structure_hook(cls)
    try:
        return [hook(item, cls) for item in data]
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        for index, item in enumerate(data):
            try:
                hook(item, cls)
            except (KeyError, TypeError, ValueError, AttributeError) as item_exc:
                raise _decode_error(item, cls, item_exc, f"[{index}]") from exc
        raise DecodeError(str(exc), path="$") from exc  # pragma: no cover - defensive


def unstructure(obj: Any) -> Any:
    """A model (or list of models) as JSON-ready data with camelCase keys."""
    return converter.unstructure(obj)
