"""The OData package's own refinements of :class:`flinkey_async.ODataError`.

```
ODataError (ValueError)
├── ODataSyntaxError        text that does not parse (``.position``, ``.text``)
├── UnsupportedODataError   valid OData this package cannot represent or evaluate
└── UnknownFieldError       ``fields(Car).licence_plate`` (also an AttributeError)
```
"""

from __future__ import annotations

from flinkey_async._exceptions import ODataError, ODataSyntaxError

__all__ = ["ODataError", "ODataSyntaxError", "UnknownFieldError", "UnsupportedODataError"]


class UnsupportedODataError(ODataError):
    """Valid OData that this package cannot represent or evaluate.

    Examples: a date in year 0 (outside Python's ``date``), geography values, ``$expand``.
    """


class UnknownFieldError(ODataError, AttributeError):
    """A model has no field of that name; the message lists the valid names."""
