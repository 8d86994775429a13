"""The one cattrs converter: JSON shapes <-> the attrs models.

camelCase keys map to snake_case attributes; ``date-time`` strings become timezone-aware
``datetime`` (a string without an offset is taken as UTC); the numbers the service sends as
strings (latitude, longitude, odometer) become ``float``; unknown keys are ignored, because the
live service may add fields.

Speed matters here: a fleet list is thousands of objects. Each model (and ``list[model]``) has a
structure hook generated as straight-line code (see :func:`_generate`) when it is first needed,
and kept in the one converter; exact types are checked inline, and the frozen values are built
through a plain twin class (see :func:`_slot_twin`). When a payload does not fit,
:func:`structure` walks it again to name the field that broke (``[3].licensePlate``).

:func:`decode` and :func:`decode_list` take the body's bytes: with msgspec installed (the
``speed`` extra) they read them straight into the models (see :mod:`flinkey_async._msgspec`),
and a body msgspec does not take comes here, so values and errors are this module's either way.
``benchmarks/bench_decode.py`` measures decoding against ``orjson.loads`` and pydantic.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar, get_args, get_origin

import attrs
import cattrs
from cattrs.gen import make_dict_unstructure_fn, override

from . import _json
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
    "decode",
    "decode_list",
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
_STRUCTURED: frozenset[Any] = frozenset({*_CAMEL_MODELS, Token})
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


def _unstructure_datetime(value: datetime) -> str:
    return format_datetime(value)


_MISSING: Any = object()


def _check_int(value: Any) -> int:
    # Slow path of an int field (the fast path, an exact int, is inlined by _generate).
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise _PayloadTypeError(f"expected int, got {type(value).__name__}")


def _wrong(kind: str, value: Any) -> _PayloadTypeError:
    return _PayloadTypeError(f"expected {kind}, got {type(value).__name__}")


_INLINE_CHECKS: dict[Any, tuple[str, bool]] = {
    # type -> (statement template checking/converting ``{v}``, whether None is accepted)
    str: ("if {v}.__class__ is not str: raise _wrong('str', {v})", False),
    bool: ("if {v}.__class__ is not bool: raise _wrong('bool', {v})", False),
    int: ("if {v}.__class__ is not int: {v} = _check_int({v})", False),
    str | None: ("if {v} is not None and {v}.__class__ is not str: raise _wrong('str', {v})", True),
    bool | None: (
        "if {v} is not None and {v}.__class__ is not bool: raise _wrong('bool', {v})",
        True,
    ),
    int | None: ("if {v} is not None and {v}.__class__ is not int: {v} = _check_int({v})", True),
}


def _slot_twin(cls: type[Any]) -> type[Any] | None:
    """A plain class with exactly the slots of ``cls``, whose instances can become ``cls``'s.

    The one place the decoder builds a model without its ``__init__``, because it halves the
    cost of a fleet list (``benchmarks/bench_decode.py``, see docs/benchmarks.md). A frozen
    attrs class refuses ``__setattr__``, so its ``__init__`` sets each slot through a call; on a
    plain slotted class the interpreter stores attributes itself, and the finished object then
    takes its real class. That is the same object only when ``__init__`` does nothing but set
    the slots (no validator, converter, hook, alias or ``init=False``), and CPython allows the
    ``__class__`` assignment only between classes of the same layout (no ``__weakref__`` slot,
    no base of its own, no fields in a base). Otherwise None: the model is built by its
    ``__init__``.
    """
    if hasattr(cls, "__attrs_post_init__") or hasattr(cls, "__attrs_pre_init__"):
        return None
    if cls.__bases__ != (object,) or "__dict__" in dir(cls) or not hasattr(cls, "__slots__"):
        return None
    fields = attrs.fields(cls)
    for field in fields:
        if (
            field.validator is not None
            or field.converter is not None
            or not field.init
            or field.alias != field.name
            or field.on_setattr not in (None, attrs.setters.NO_OP)
            or not hasattr(cls.__dict__.get(field.name), "__set__")
        ):
            return None
    slots = tuple(cls.__dict__.get("__slots__", ()))
    if sorted(slots) != sorted(field.name for field in fields):
        return None
    twin = type(f"_{cls.__name__}Slots", (), {"__slots__": slots, "__module__": __name__})
    try:
        twin().__class__ = cls
    except TypeError:
        return None
    return twin


def _generate(
    conv: cattrs.Converter,
    cls: type[Any],
    key_of: Callable[[str], str],
) -> tuple[Callable[[Any, Any], Any], Callable[[Any, Any], Any]]:
    """A structure hook for ``cls`` and one for ``list[cls]``, as straight-line Python.

    A fleet list is thousands of objects, and cattrs' generic hooks cost more than decoding the
    JSON itself. The generated code reads each key once, checks exact types inline (the common
    case costs one identity test), calls a hook only for datetimes, enums, numbers sent as
    strings and nested models, and builds the frozen model through its slot twin (see
    :func:`_slot_twin`; else through its ``__init__``, positionally). A value that does not fit
    raises; :func:`structure` then walks the payload again to name the field.
    """
    hints = attrs.resolve_types(cls)
    namespace: dict[str, Any] = {
        "_cls": cls,
        "_wrong": _wrong,
        "_check_int": _check_int,
        "_MISSING": _MISSING,
        "_PayloadTypeError": _PayloadTypeError,
        "_dict": dict,
    }
    reads: list[str] = []  # fetching the values
    optional: list[tuple[str, str]] = []  # (variable, key) of fields that default to None
    checks: list[str] = []  # checking and converting them
    names: list[str] = []
    for index, field in enumerate(attrs.fields(hints)):
        v = f"v{index}"
        key = key_of(field.name)
        names.append(v)
        field_type = field.type
        has_default = field.default is not attrs.NOTHING
        inline = _INLINE_CHECKS.get(field_type)
        if not has_default:
            reads.append(f"{v} = d[{key!r}]")
        elif field.default is None:
            optional.append((v, key))
        else:
            namespace[f"_default{index}"] = field.default
            reads.append(f"{v} = d.get({key!r}, _MISSING)")
        if inline is not None:
            check = inline[0].format(v=v)
            if has_default and field.default is not None:
                checks.append(f"if {v} is _MISSING: {v} = _default{index}")
                checks.append("else:")
                checks.append(f"    {check}")
            else:
                checks.append(check)
            continue
        namespace[f"_hook{index}"] = conv.get_structure_hook(field_type)
        namespace[f"_type{index}"] = field_type
        call = f"_hook{index}({v}, _type{index})"
        if has_default and field.default is None:
            checks.append(f"if {v} is not None: {v} = {call}")
        elif has_default:
            # A nested model that is absent or null takes its default.
            checks.append(f"if {v} is _MISSING or {v} is None: {v} = _default{index}")
            checks.append(f"else: {v} = {call}")
        else:
            checks.append(f"{v} = {call}")
    lines = list(reads)
    if optional:
        # The service sends nullable fields as null, so subscripting is the fast path; a
        # payload that leaves some out takes the .get() path.
        lines.append("try:")
        lines.extend(f"    {v} = d[{key!r}]" for v, key in optional)
        lines.append("except KeyError:")
        lines.append("    g = d.get")
        lines.extend(f"    {v} = g({key!r})" for v, key in optional)
    lines.extend(checks)
    twin = _slot_twin(cls)
    if twin is None:
        construct = f"_cls({', '.join(names)})"
    else:
        namespace["_twin"] = twin
        lines.append("o = _twin()")
        lines.extend(f"o.{field.name} = v{index}" for index, field in enumerate(attrs.fields(cls)))
        lines.append("o.__class__ = _cls")
        construct = "o"
    body = "\n    ".join(lines)
    many_body = "\n        ".join(lines)
    one = (
        "def structure_one(d, _=None):\n"
        "    if d.__class__ is not _dict: raise _wrong('an object', d)\n"
        f"    {body}\n"
        f"    return {construct}\n"
    )
    many = (
        "def structure_many(items, _=None):\n"
        "    if items.__class__ is not list: raise _wrong('an array', items)\n"
        "    out = []\n"
        "    append = out.append\n"
        "    for d in items:\n"
        "        if d.__class__ is not _dict: raise _wrong('an object', d)\n"
        f"        {many_body}\n"
        f"        append({construct})\n"
        "    return out\n"
    )
    exec(compile(one + many, f"<structure {cls.__name__}>", "exec"), namespace)
    return namespace["structure_one"], namespace["structure_many"]


def _model_of_list(type_: Any) -> Any:
    """``Car`` for ``list[Car]`` (a model that decodes from camelCase); else None."""
    if get_origin(type_) is list:
        args = get_args(type_)
        if len(args) == 1 and args[0] in _CAMEL_MODELS:
            return args[0]
    return None


def _unstructure_fn(model: type[Any], conv: cattrs.Converter) -> Callable[[Any], Any]:
    renames = {field.name: override(rename=wire_name(field.name)) for field in attrs.fields(model)}
    if model is Location:
        for name in _NUMBER_AS_STRING_FIELDS:
            renames[name] = override(
                rename=wire_name(name),
                unstruct_hook=lambda value: None if value is None else repr(float(value)),
            )
    return make_dict_unstructure_fn(model, conv, **renames)  # type: ignore[arg-type]


def _build_converter() -> cattrs.Converter:
    """The converter, with each model's hooks generated when the model is first decoded.

    Generating them all up front would cost every ``import flinkey_async`` several
    milliseconds; cattrs caches what a hook factory returns, so each is made once.
    """
    conv = cattrs.Converter(detailed_validation=False, forbid_extra_keys=False)
    for kind in (str, int, bool):
        conv.register_structure_hook(kind, _expect(kind))
        conv.register_structure_hook(kind | None, _optional(_expect(kind)))
    conv.register_structure_hook(datetime, _structure_datetime)
    conv.register_structure_hook(datetime | None, _optional(_structure_datetime))
    conv.register_structure_hook(float, _structure_number)  # Token.expires_in: "3600" or 3600
    conv.register_structure_hook(float | None, _optional(_structure_number))
    conv.register_unstructure_hook(datetime, _unstructure_datetime)
    conv.register_structure_hook(ProductType, lambda value, _: ProductType(value))
    conv.register_unstructure_hook(ProductType, lambda value: value.value)

    generated: dict[type[Any], tuple[Callable[[Any, Any], Any], Callable[[Any, Any], Any]]] = {}

    def hooks_of(model: type[Any]) -> tuple[Callable[[Any, Any], Any], Callable[[Any, Any], Any]]:
        pair = generated.get(model)
        if pair is None:
            pair = generated[model] = _generate(conv, model, str if model is Token else wire_name)
        return pair

    conv.register_structure_hook_factory(
        lambda type_: isinstance(type_, type) and type_ in _STRUCTURED,
        lambda model: hooks_of(model)[0],
    )
    conv.register_structure_hook_factory(
        lambda type_: _model_of_list(type_) is not None,
        lambda type_: hooks_of(_model_of_list(type_))[1],
    )
    conv.register_unstructure_hook_factory(
        lambda type_: isinstance(type_, type) and type_ in _CAMEL_MODELS,
        lambda model: _unstructure_fn(model, conv),
    )
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


_HOOKS: dict[Any, Callable[[Any, Any], Any]] = {}
"""Structure hooks by type, looked up once (the converter is complete after import)."""


def _hook(cls: Any) -> Callable[[Any, Any], Any]:
    hook = _HOOKS.get(cls)
    if hook is None:
        hook = _HOOKS[cls] = converter.get_structure_hook(cls)
    return hook


def structure(data: Any, cls: type[T]) -> T:
    """One JSON object as ``cls``; a body that does not fit raises :class:`DecodeError`."""
    hook = _HOOKS.get(cls) or _hook(cls)
    try:
        return hook(data, cls)  # type: ignore[no-any-return]
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise _decode_error(data, cls, exc) from exc


_LIST_HOOKS: dict[Any, tuple[Callable[[Any, Any], Any], Any]] = {}
"""``list[cls]``'s hook and the type itself, by ``cls``: making ``list[cls]`` and hashing it for
the lookup cost more than structuring the one or two rows of most list answers."""


def structure_list(data: Any, cls: type[T]) -> list[T]:
    """A JSON array of objects as a list of ``cls``."""
    if not isinstance(data, list):
        raise DecodeError(f"expected an array, got {type(data).__name__}", path="$")
    found = _LIST_HOOKS.get(cls)
    if found is None:
        list_type: Any = list[cls]  # type: ignore[valid-type]
        found = _LIST_HOOKS[cls] = (_hook(list_type), list_type)
    try:
        return found[0](data, found[1])  # type: ignore[no-any-return]
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        hook = _hook(cls)
        for index, item in enumerate(data):
            try:
                hook(item, cls)
            except (KeyError, TypeError, ValueError, AttributeError) as item_exc:
                raise _decode_error(item, cls, item_exc, f"[{index}]") from exc
        raise DecodeError(str(exc), path="$") from exc  # pragma: no cover - defensive


_fast_decoders: dict[tuple[Any, bool], Callable[[bytes], Any] | None] = {}
_fast_errors: tuple[type[Exception], ...] = ()


def _fast_decoder(cls: Any, many: bool) -> Callable[[bytes], Any] | None:
    """msgspec's decoder for ``cls`` (see :mod:`flinkey_async._msgspec`), or None without it.

    msgspec is imported on the first decode, not by ``import flinkey_async``.
    """
    global _fast_errors
    key = (cls, many)
    if key not in _fast_decoders:
        try:
            from . import _msgspec
        except ImportError:  # the speed extra is not installed
            _fast_decoders[key] = None
        else:
            _fast_errors = _msgspec.errors
            _fast_decoders[key] = _msgspec.decoder_for(cls, many)
    return _fast_decoders[key]


def _loads(payload: bytes) -> Any:
    try:
        return _json.loads(payload)
    except ValueError as exc:
        raise DecodeError("the body is not JSON") from exc


def decode(payload: bytes, cls: type[T]) -> T:
    """A JSON body as ``cls``: :func:`structure` of the parsed body, built faster with msgspec.

    With msgspec installed, the bytes go straight into the model; a body it does not take goes
    through :func:`structure`, which builds the same value or raises the same
    :class:`DecodeError`. A body that is not JSON raises :class:`DecodeError` too.
    """
    fast = _fast_decoders.get((cls, False), _MISSING)
    if fast is _MISSING:
        fast = _fast_decoder(cls, False)
    if fast is not None:
        try:
            return fast(payload)  # type: ignore[no-any-return]
        except _fast_errors:
            pass
    return structure(_loads(payload), cls)


def decode_list(payload: bytes, cls: type[T]) -> list[T]:
    """A JSON array body as a list of ``cls`` (see :func:`decode`)."""
    fast = _fast_decoders.get((cls, True), _MISSING)
    if fast is _MISSING:
        fast = _fast_decoder(cls, True)
    if fast is not None:
        try:
            return fast(payload)  # type: ignore[no-any-return]
        except _fast_errors:
            pass
    return structure_list(_loads(payload), cls)


def unstructure(obj: Any) -> Any:
    """A model (or list of models) as JSON-ready data with camelCase keys."""
    return converter.unstructure(obj)
