"""The fake secrets every client test uses: distinctive, so that a leak is recognisable."""

from __future__ import annotations

API_KEY = "KEY-s3cr3t-7f41c2"
USERNAME = "manager@example.test"
PASSWORD = "PW-s3cr3t-9b83de"
TOKEN_PREFIX = "TOK-s3cr3t-"
"""Fake servers issue tokens that start with this."""
STATIC_TOKEN = TOKEN_PREFIX + "static"

SECRETS = (API_KEY, PASSWORD, TOKEN_PREFIX)


class SecretWatch:
    """Texts the library produced during the suite: log lines, error messages, reprs."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def add(self, text: str) -> None:
        self.texts.append(text)

    def leaks(self) -> list[str]:
        return [text for text in self.texts if any(secret in text for secret in SECRETS)]


WATCH = SecretWatch()
"""Filled by ``tests/conftest.py`` (log records, every FlinkeyError) and by test_secrets.py."""
