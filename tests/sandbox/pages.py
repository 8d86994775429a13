"""Reads the reference pages (``tests/api_pages/*.txt``) into documented answers.

A page lists, per endpoint (``GET /cars/{carId}``), ``Response`` blocks: a status line
(``404 NOT FOUND``) and a body: plain-text messages one per line, JSON documents (401 bodies, the
415 problem document, the JSON schemas of 2xx bodies), or nothing (204). The line before an
endpoint's ``METHOD /path`` line is its title ("Get car") and ends the previous block.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import attrs

DOCS = Path(__file__).resolve().parents[1] / "api_pages"
"""The pages the tests read: byte-identical copies, kept in the repository (``tests/api_pages``)."""

PAGE_FILES = ("cars.txt", "groups.txt", "products.txt")
"""The copies: one per endpoint page (cars, groups, products)."""

SHARED = Path(
    os.environ.get("FLINKEY_API_DOCS", Path(__file__).resolve().parents[3] / "shared" / "api-docs")
)
"""Where the published pages may also be: ``shared/api-docs`` beside the repository (override:
``FLINKEY_API_DOCS``); only the check that the copies are still identical needs them."""

ODATA_TIP = "The returned data can be manipulated using OData."

_ROUTE = re.compile(r"(GET|PUT|PATCH|DELETE|POST) (/\S*)")
_STATUS = re.compile(r"(\d{3}) [A-Z][A-Z ]*")
_DECODER = json.JSONDecoder()


@attrs.frozen
class Documented:
    """One documented answer of one endpoint.

    ``message`` is the plain-text body, or the ``message`` of a 401 JSON body; ``document`` is a
    JSON body (401 body, 415 problem, 2xx schema); both are None for a 204.
    """

    route: str
    status: int
    message: str | None = None
    document: Any = attrs.field(default=None, eq=False)

    @property
    def key(self) -> tuple[str, int, str | None]:
        return (self.route, self.status, self.message)


@attrs.frozen
class Pages:
    routes: tuple[str, ...]
    odata: frozenset[str]
    answers: tuple[Documented, ...]

    def of(self, route: str, status: int) -> list[Documented]:
        return [a for a in self.answers if a.route == route and a.status == status]


def endpoint_pages(directory: Path) -> list[Path]:
    """The ``.txt`` files of ``directory`` that document at least one endpoint."""
    return [
        page
        for page in sorted(directory.glob("*.txt"))
        if any(_ROUTE.fullmatch(line.strip()) for line in page.read_text("utf-8").splitlines())
    ]


def read_pages(directory: Path = DOCS) -> Pages:
    """Every page's endpoints and answers; a missing page is an error, never an empty table."""
    missing = [name for name in PAGE_FILES if not (directory / name).is_file()]
    if missing:
        raise FileNotFoundError(f"reference pages missing from {directory}: {', '.join(missing)}")
    routes: list[str] = []
    odata: set[str] = set()
    answers: list[Documented] = []
    for name in PAGE_FILES:
        _read_page((directory / name).read_text(encoding="utf-8"), routes, odata, answers)
    unique: dict[tuple[str, int, str | None], Documented] = {}
    for answer in answers:
        unique.setdefault(answer.key, answer)
    return Pages(tuple(routes), frozenset(odata), tuple(unique.values()))


def _read_page(text: str, routes: list[str], odata: set[str], answers: list[Documented]) -> None:
    lines = [line.rstrip() for line in text.splitlines()]
    titles: set[int] = set()
    for index, line in enumerate(lines):
        if _ROUTE.fullmatch(line.strip()):
            before = index - 1
            while before >= 0 and not lines[before].strip():
                before -= 1
            titles.add(before)
    route: str | None = None
    index = 0
    while index < len(lines):
        line = lines[index].strip()
        match = _ROUTE.fullmatch(line)
        if match:
            route = f"{match.group(1)} {match.group(2)}"
            routes.append(route)
        elif line == ODATA_TIP and route is not None:
            odata.add(route)
        elif line == "Response" and route is not None:
            index = _read_response(lines, index + 1, route, titles, answers)
            continue
        index += 1


def _read_response(
    lines: list[str], index: int, route: str, titles: set[int], answers: list[Documented]
) -> int:
    while not lines[index].strip():
        index += 1
    status_match = _STATUS.fullmatch(lines[index].strip())
    assert status_match, f"{route}: no status line after 'Response': {lines[index]!r}"
    status = int(status_match.group(1))
    index += 1
    block: list[str] = []
    while (
        index < len(lines)
        and lines[index].strip() != "Response"
        and not _ROUTE.fullmatch(lines[index].strip())
        and index not in titles
    ):
        block.append(lines[index])
        index += 1
    documents, paragraphs = _split("\n".join(block))
    if status == 204:
        answers.append(Documented(route, status))
    elif status == 401:
        for document in documents:
            answers.append(Documented(route, status, document["message"], document))
        for paragraph in paragraphs:  # a plain rendering of the same message
            answers.append(Documented(route, status, " ".join(paragraph)))
    elif documents:  # 2xx schemas, the 415 problem document
        for document in documents:
            answers.append(Documented(route, status, None, document))
    else:
        for paragraph in paragraphs:
            for message in paragraph:
                answers.append(Documented(route, status, message))
    return index


def _split(text: str) -> tuple[list[Any], list[list[str]]]:
    """JSON documents and paragraphs of text lines in a response block."""
    documents: list[Any] = []
    paragraphs: list[list[str]] = []
    current: list[str] = []
    position = 0
    while position < len(text):
        start = position
        while start < len(text) and text[start] in " \t":
            start += 1
        if start < len(text) and text[start] == "{":
            document, position = _DECODER.raw_decode(text, start)
            documents.append(document)
            if current:
                paragraphs.append(current)
                current = []
            continue
        end = text.find("\n", position)
        end = len(text) if end < 0 else end
        line = text[position:end].strip()
        if line:
            current.append(line)
        elif current:
            paragraphs.append(current)
            current = []
        position = end + 1
    if current:
        paragraphs.append(current)
    return documents, paragraphs
