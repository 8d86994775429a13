"""Checks on arguments, done before anything is sent.

The reference pages define a few rules the service enforces with a 400 (a car needs a name, a group
name is not blank and at most 250 characters, the location date has one exact format, ids are
int32 database ids). Checking them here turns a round trip and a vague error into an immediate
:class:`~flinkey_async.ValidationError` that names the argument.
"""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime
from typing import Any

from ._exceptions import ValidationError
from ._messages import MAX_GROUP_NAME_LENGTH

__all__ = [
    "INT32_MAX",
    "check_car_name",
    "check_count",
    "check_group_name",
    "check_id",
    "check_no_controls",
    "check_optional_text",
    "format_search_date",
]

INT32_MAX = 2**31 - 1
"""The pages declare every id as ``int32``."""


def check_id(field: str, value: Any) -> int:
    """A database id: a positive ``int`` that fits in int32 (``bool`` is not an id)."""
    if value.__class__ is not int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValidationError(field, f"must be an int, got {type(value).__name__}")
        value = int(value)
    if not 0 < value <= INT32_MAX:
        raise ValidationError(field, f"must be a positive int32 id, got {value}")
    return int(value)


def check_count(field: str, value: Any) -> int:
    """A number of things (requests in flight, attempts, rows): an ``int`` >= 1, not a ``bool``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValidationError(field, f"must be an integer >= 1, got {value!r}")
    return value


def check_no_controls(field: str, value: str) -> str:
    """A credential or header value without control characters (C0, DEL, C1).

    A key read from a file with a CRLF ending would otherwise fail deep inside aiohttp on the
    first request, or split a header. The error names the setting and the offending code point,
    never the value: it is a secret.
    """
    if value.isprintable():  # the common case, one C-level pass: no control character at all
        return value
    for char in value:
        if unicodedata.category(char) == "Cc":
            raise ValidationError(
                field,
                f"must not contain control characters, found U+{ord(char):04X} "
                "(a value read from a file may end in a line break)",
            )
    return value


def _check_text(field: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ValidationError(field, f"must be a str, got {type(value).__name__}")
    return value


def check_optional_text(field: str, value: Any) -> str | None:
    """An optional text field of a car: ``str`` or ``None``."""
    if value is None:
        return None
    return _check_text(field, value)


def check_car_name(value: Any) -> str:
    """A car's name: required, and not empty or white space (the service answers 400 otherwise)."""
    name = _check_text("name", value)
    if not name.strip():
        raise ValidationError("name", "a car name must not be empty or white space")
    return name


def check_group_name(value: Any) -> str:
    """A group's name: not empty or white space, at most 250 characters.

    Characters as the service counts them: it runs on .NET, whose strings count UTF-16 code
    units, so a character outside the Basic Multilingual Plane (most emoji) counts twice.
    """
    name = _check_text("name", value)
    if not name.strip():
        raise ValidationError("name", "a group name must not be empty or white space")
    length = len(name.encode("utf-16-le")) // 2
    if length > MAX_GROUP_NAME_LENGTH:
        raise ValidationError(
            "name",
            f"a group name must be at most {MAX_GROUP_NAME_LENGTH} characters (UTF-16 code "
            f"units, as the service counts them), got {length}",
        )
    return name


def format_search_date(value: Any) -> str:
    """A timezone-aware datetime as the location endpoint wants it: ``yyyy-MM-ddTHH:mm:ssZ`` in UTC.

    A naive datetime is refused rather than guessed: the service's clock is UTC and a local time
    taken for UTC silently shifts the answer by hours. Sub-second parts are dropped (the format
    has none).
    """
    if not isinstance(value, datetime):
        raise ValidationError("when", f"must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValidationError("when", "must be timezone-aware (for example tzinfo=datetime.UTC)")
    utc = value.astimezone(UTC)
    return (
        f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}"
        f"T{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d}Z"
    )
