"""Every answer the reference pages document, per endpoint, as the API table has them.

The answers are those of :mod:`flinkey_async._api`, whose texts are ``_messages``' constants.

``(status, message)``: the plain-text body (400, 404, 409, 500) or the ``message`` of the 401
JSON body; ``None`` for answers that are a JSON document (2xx bodies, the 415 problem document)
or empty (204). The conformance test takes its rows from the pages, not from here;
``test_conformance.test_table_is_exactly_the_pages`` proves this table equals what the pages
say, so a constant of ``_messages`` that drifts from its page is caught.

Note what the pages leave out, kept here as they are: ``GET /cars`` documents no 404.
"""

from __future__ import annotations

from typing import Any, Final

from flinkey_async import _api
from flinkey_async._api import Answer

DOCUMENTED: Final[dict[str, list[Answer]]] = {
    endpoint.route: list(endpoint.answers) for endpoint in _api.endpoints()
}

SUCCESS_MODEL: Final[dict[str, tuple[type[Any], bool]]] = {
    # route: (model of the 2xx body, is a list)
    endpoint.route: (endpoint.model, endpoint.many)
    for endpoint in _api.endpoints()
    if endpoint.model is not type(None)
}


def rows() -> list[tuple[str, int, str | None]]:
    """Every (endpoint, status, message) pair of the table."""
    return [
        (route, status, message)
        for route, answers in DOCUMENTED.items()
        for status, message in answers
    ]
