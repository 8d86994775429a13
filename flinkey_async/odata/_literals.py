"""Scanners for OData literal values, exact to the character (the ABNF's primitive rules).

Each ``scan_*`` reads one value starting at ``text[i]`` and returns ``(value, end)``; on a
mismatch it raises :class:`ODataSyntaxError` at the first character that breaks the rule, which
is the position the OData ABNF test cases name. Values that are valid OData but have no Python
form (year 0, negative years) raise :class:`UnsupportedODataError` instead.

The scanners work on decoded text: percent-decoding, where a URL allows it, happens before.
"""

from __future__ import annotations

import base64
import re
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Final
from uuid import UUID

from flinkey_async.odata._errors import ODataSyntaxError, UnsupportedODataError

__all__ = [
    "GUID_PATTERN",
    "INT64_MAX",
    "MAX_INTEGER_DIGITS",
    "scan_binary",
    "scan_boolean",
    "scan_date",
    "scan_date_or_datetime",
    "scan_datetime",
    "scan_duration",
    "scan_guid",
    "scan_number",
    "scan_string",
    "scan_time",
]

DIGITS: Final = frozenset("0123456789")

MAX_INTEGER_DIGITS: Final = 4_000
"""The most digits (leading zeros aside) an integer literal may have, written or built.

OData puts no bound on an integer written without a point, but Python refuses to convert text of
more than 4,300 digits to an ``int`` and back (``sys.get_int_max_str_digits``). Beyond this
bound a literal is an :class:`UnsupportedODataError`, never a bare ``ValueError``."""
INTEGER_BOUND: Final = 10**MAX_INTEGER_DIGITS
"""Integers of :data:`MAX_INTEGER_DIGITS` digits are strictly between ``-INTEGER_BOUND`` and it."""
INT64_MAX: Final = 2**63 - 1
"""The largest Edm.Int64, the type of ``$top`` and ``$skip``."""
_CLAMP_DIGITS: Final = 18
_CLAMPED: Final = 10**_CLAMP_DIGITS
_HEX: Final = frozenset("0123456789abcdefABCDEF")
_BASE64URL: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
_BASE64_B16_LAST: Final = frozenset("AEIMQUYcgkosw048")
_BASE64_B8_LAST: Final = frozenset("AQgw")
GUID_PATTERN: Final = re.compile(
    r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}"
)


def found(text: str, i: int) -> str:
    """How an error message names what is at ``text[i]``."""
    if i >= len(text):
        return "the end"
    return repr(text[i : i + 12])


def fail(text: str, i: int, expected: str) -> ODataSyntaxError:
    """The error for ``expected ...`` at ``i`` (returned, so callers write ``raise fail(...)``)."""
    return ODataSyntaxError(f"expected {expected}, found {found(text, i)}", text, i)


def _is_digit(text: str, i: int) -> bool:
    return i < len(text) and text[i] in DIGITS


def _digits(text: str, i: int) -> int:
    """End of the run of ASCII digits starting at ``i``."""
    n = len(text)
    while i < n and text[i] in DIGITS:
        i += 1
    return i


def _char(text: str, i: int) -> str:
    return text[i] if i < len(text) else ""


def _expect(text: str, i: int, chars: str, expected: str) -> int:
    if i >= len(text) or text[i] not in chars:
        raise fail(text, i, expected)
    return i + 1


# -- booleans, numbers, strings --------------------------------------------------------------


def scan_boolean(text: str, i: int) -> tuple[bool, int]:
    """``true`` / ``false``, any case."""
    for word, value in (("true", True), ("false", False)):
        if text[i : i + len(word)].lower() == word:
            return value, i + len(word)
    raise fail(text, i, "true or false")


def scan_number(text: str, i: int) -> tuple[int | Decimal | float, int]:
    """``[sign] digits [. digits] [e [sign] digits]``, or ``NaN`` / ``INF`` / ``-INF``.

    An integer when there is no ``.`` and no exponent; a ``Decimal`` otherwise (exact, as
    written); a ``float`` for the three special values.
    """
    for word, special in (("NaN", float("nan")), ("-INF", float("-inf")), ("INF", float("inf"))):
        if text.startswith(word, i):
            return special, i + len(word)
    start = i
    if _char(text, i) in ("+", "-"):
        i += 1
    if not _is_digit(text, i):
        raise fail(text, i, "a digit")
    i = _digits(text, i)
    integral = True
    if _char(text, i) == ".":
        i += 1
        if not _is_digit(text, i):
            raise fail(text, i, "a digit after '.'")
        i = _digits(text, i)
        integral = False
    if _char(text, i) in ("e", "E"):
        i += 1
        if _char(text, i) in ("+", "-"):
            i += 1
        if not _is_digit(text, i):
            raise fail(text, i, "a digit in the exponent")
        i = _digits(text, i)
        integral = False
    literal = text[start:i]
    if integral:
        return _integer(text, start, i), i
    try:
        number = Decimal(literal)
    except InvalidOperation:  # an exponent beyond what a Decimal can hold
        number = Decimal("NaN")
    if not number.is_finite():  # also when the thread's context does not trap the error
        raise UnsupportedODataError(
            f"the number at position {start} has an exponent too large to represent"
        )
    return number, i


def _integer(text: str, start: int, end: int) -> int:
    """The integer ``text[start:end]`` (sign and digits), refused past MAX_INTEGER_DIGITS."""
    sign = text[start] if text[start] in "+-" else ""
    digits = text[start + len(sign) : end].lstrip("0")
    if len(digits) > MAX_INTEGER_DIGITS:
        raise UnsupportedODataError(
            f"the integer at position {start} has {len(digits)} digits; "
            f"at most {MAX_INTEGER_DIGITS:,} are supported"
        )
    return int(sign + (digits or "0"))


def _clamped(digits: str) -> int:
    """A run of digits as an int, or a stand-in past any date or duration part when it is long:
    the caller only needs to know that it is out of range."""
    significant = digits.lstrip("0")
    return int(significant or "0") if len(significant) <= _CLAMP_DIGITS else _CLAMPED


def scan_string(text: str, i: int) -> tuple[str, int]:
    """``'...'`` with ``''`` standing for one quote."""
    i = _expect(text, i, "'", "a quote")
    parts: list[str] = []
    while True:
        close = text.find("'", i)
        if close < 0:
            raise fail(text, len(text), "a closing quote")
        parts.append(text[i:close])
        if text.startswith("''", close):
            parts.append("'")
            i = close + 2
            continue
        return "".join(parts), close + 1


# -- dates and times -------------------------------------------------------------------------


def _scan_year(text: str, i: int) -> tuple[int, int]:
    start = i
    if _char(text, i) == "-":
        i += 1
    if not _is_digit(text, i):
        raise fail(text, i, "a year")
    if text[i] == "0":
        for k in range(1, 4):
            if not _is_digit(text, i + k):
                raise fail(text, i + k, "a digit (a year has four digits)")
        i += 4
    else:
        end = _digits(text, i)
        if end - i < 4:
            raise fail(text, end, "a digit (a year has four digits)")
        i = end
    year = _clamped(text[start:i].lstrip("-"))
    return (-year if text[start] == "-" else year), i


def _two(text: str, i: int, first: str, second_by_first: dict[str, str], what: str) -> int:
    """Two digits where the allowed second digit depends on the first (months, days, hours)."""
    c = _char(text, i)
    if not c or c not in first:
        raise fail(text, i, what)
    allowed = second_by_first[c]
    if _char(text, i + 1) == "" or text[i + 1] not in allowed:
        raise fail(text, i + 1, what)
    return int(text[i : i + 2])


_ALL = "0123456789"
_MONTH = {"0": "123456789", "1": "012"}
_DAY = {"0": "123456789", "1": _ALL, "2": _ALL, "3": "01"}
_HOUR = {"0": _ALL, "1": _ALL, "2": "0123"}
_SIXTY = {c: _ALL for c in "012345"}
_SECOND = {**_SIXTY, "6": "0"}


def _scan_date_parts(text: str, i: int) -> tuple[int, int, int, int, int]:
    """year, month, day, position of the day, end."""
    year, i = _scan_year(text, i)
    i = _expect(text, i, "-", "'-'")
    month = _two(text, i, "01", _MONTH, "a month 01-12")
    i = _expect(text, i + 2, "-", "'-'")
    day_at = i
    day = _two(text, i, "0123", _DAY, "a day 01-31")
    return year, month, day, day_at, i + 2


def _scan_time_parts(text: str, i: int) -> tuple[int, int, int, int, int]:
    """hour, minute, second, microsecond, end. A leap second (60) reads as 59.999999."""
    hour = _two(text, i, "012", _HOUR, "an hour 00-23")
    i = _expect(text, i + 2, ":", "':'")
    minute = _two(text, i, "012345", _SIXTY, "a minute 00-59")
    i += 2
    second = microsecond = 0
    if _char(text, i) == ":":
        second = _two(text, i + 1, "0123456", _SECOND, "a second 00-59")
        i += 3
        if _char(text, i) == ".":
            i += 1
            if not _is_digit(text, i):
                raise fail(text, i, "a digit after '.'")
            end = min(_digits(text, i), i + 12)
            microsecond = int(text[i:end][:6].ljust(6, "0"))
            i = end
    if second == 60:
        second, microsecond = 59, 999_999
    return hour, minute, second, microsecond, i


def _check_year(year: int) -> None:
    if not 1 <= year <= 9999:
        shown = f"of more than {_CLAMP_DIGITS} digits" if abs(year) >= _CLAMPED else str(year)
        raise UnsupportedODataError(
            f"year {shown} is valid OData but outside Python's date range (1 to 9999)"
        )


def _make_date(text: str, year: int, month: int, day: int, day_at: int) -> date:
    _check_year(year)
    try:
        return date(year, month, day)
    except ValueError:
        raise ODataSyntaxError(
            f"day {day} does not exist in {year:04d}-{month:02d}", text, day_at
        ) from None


def scan_date(text: str, i: int) -> tuple[date, int]:
    """``YYYY-MM-DD``."""
    year, month, day, day_at, end = _scan_date_parts(text, i)
    return _make_date(text, year, month, day, day_at), end


def scan_time(text: str, i: int) -> tuple[time, int]:
    """``HH:MM[:SS[.fraction]]`` (OData TimeOfDay)."""
    hour, minute, second, microsecond, end = _scan_time_parts(text, i)
    return time(hour, minute, second, microsecond), end


def _scan_zone(text: str, i: int) -> tuple[timezone, int]:
    c = _char(text, i)
    if c in ("Z", "z"):
        return UTC, i + 1
    if c not in ("+", "-"):
        raise fail(text, i, "'Z' or an offset such as +01:00")
    hours = _two(text, i + 1, "012", _HOUR, "an offset hour 00-23")
    j = _expect(text, i + 3, ":", "':'")
    minutes = _two(text, j, "012345", _SIXTY, "an offset minute 00-59")
    offset = timedelta(hours=hours, minutes=minutes)
    return (timezone(-offset) if c == "-" else timezone(offset)), j + 2


def _scan_after_date(
    text: str, i: int, parts: tuple[int, int, int, int, int]
) -> tuple[datetime, int]:
    year, month, day, day_at, _ = parts
    i = _expect(text, i, "Tt", "'T'")
    hour, minute, second, microsecond, i = _scan_time_parts(text, i)
    zone, i = _scan_zone(text, i)
    day_value = _make_date(text, year, month, day, day_at)
    value = datetime.combine(day_value, time(hour, minute, second, microsecond), tzinfo=zone)
    return value, i


def scan_datetime(text: str, i: int) -> tuple[datetime, int]:
    """``YYYY-MM-DDTHH:MM[:SS[.fraction]](Z|+HH:MM|-HH:MM)`` (OData DateTimeOffset)."""
    parts = _scan_date_parts(text, i)
    return _scan_after_date(text, parts[4], parts)


def scan_date_or_datetime(text: str, i: int) -> tuple[date | datetime, int]:
    """A date, or a DateTimeOffset when a ``T`` follows the date (expression literals)."""
    parts = _scan_date_parts(text, i)
    end = parts[4]
    if _char(text, end) in ("T", "t"):
        return _scan_after_date(text, end, parts)
    year, month, day, day_at, _ = parts
    return _make_date(text, year, month, day, day_at), end


def scan_duration(text: str, i: int) -> tuple[timedelta, int]:
    """``[-]P[nD][T[nH][nM][n[.n]S]]``: day-time durations only (no years or months)."""
    negative = _char(text, i) == "-"
    if negative:
        i += 1
    i = _expect(text, i, "Pp", "'P'")
    days = hours = minutes = 0
    seconds = Decimal(0)
    if _is_digit(text, i):
        end = _digits(text, i)
        days = _clamped(text[i:end])
        i = _expect(text, end, "Dd", "'D' (durations have days, hours, minutes, seconds)")
    if _char(text, i) in ("T", "t"):
        i += 1
        allowed = "HhMmSs."
        while _is_digit(text, i):
            end = _digits(text, i)
            number = text[i:end]
            unit = _char(text, end)
            if not unit or unit not in allowed:
                raise fail(text, end, "'H', 'M' or 'S'")
            if unit in "Hh":
                hours = _clamped(number)
                allowed = "MmSs."
                i = end + 1
            elif unit in "Mm":
                minutes = _clamped(number)
                allowed = "Ss."
                i = end + 1
            else:  # seconds, maybe with a fraction
                stop = end
                if unit == ".":
                    if not _is_digit(text, end + 1):
                        raise fail(text, end + 1, "a digit after '.'")
                    stop = _digits(text, end + 1)
                whole = _clamped(text[i:end])
                seconds = Decimal(text[i:stop]) if whole < _CLAMPED else Decimal(_CLAMPED)
                i = _expect(text, stop, "Ss", "'S'")
                break
    try:
        value = timedelta(
            days=days, hours=hours, minutes=minutes, microseconds=int(seconds * 1_000_000)
        )
    except OverflowError:
        raise UnsupportedODataError("duration is too long for Python's timedelta") from None
    return (-value if negative else value), i


def scan_guid(text: str, i: int) -> tuple[UUID, int]:
    """``8-4-4-4-12`` hex digits."""
    start = i
    for group, size in enumerate((8, 4, 4, 4, 12)):
        if group:
            i = _expect(text, i, "-", "'-'")
        for _ in range(size):
            if i >= len(text) or text[i] not in _HEX:
                raise fail(text, i, "a hex digit")
            i += 1
    return UUID(text[start:i]), i


def scan_binary(text: str, i: int) -> tuple[bytes, int]:
    """base64url (RFC 4648 section 5), padding optional."""
    start = i
    n = len(text)
    while i < n and text[i] in _BASE64URL:
        i += 1
    body = text[start:i]
    rest = len(body) % 4
    if rest == 1:
        raise fail(text, i, "another base64url character")
    if rest == 2:
        if body[-1] not in _BASE64_B8_LAST:
            raise fail(text, i - 1, "a base64url character that ends a byte")
        if text.startswith("==", i):
            i += 2
    elif rest == 3:
        if body[-1] not in _BASE64_B16_LAST:
            raise fail(text, i - 1, "a base64url character that ends a byte")
        if text.startswith("=", i):
            i += 1
    padded = body + "=" * (-len(body) % 4)
    return base64.urlsafe_b64decode(padded), i


def parse_datetime_text(text: str) -> datetime | None:
    """A record's date-time string as an aware datetime, or ``None`` if it is not one.

    JSON carries date-times as text. OData's own form comes first; other ISO 8601 spellings
    (``+00:00``, a space separator, no offset) go through ``datetime.fromisoformat``, and a value
    without an offset is taken as UTC, as the service's clients do.
    """
    if len(text) < 10 or not text[:4].isdigit() or text[4:5] != "-":
        return None
    try:
        value, end = scan_datetime(text, 0)
        if end == len(text):
            return value
    except (ODataSyntaxError, UnsupportedODataError):
        pass
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
