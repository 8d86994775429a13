"""The sandbox's API Manager account and the JWTs it is issued.

Tokens are HS256 JWTs (PyJWT) signed with a random secret of this sandbox, so a token of one
sandbox is "wrongly signed" for every other. Each carries ``sub`` (the manager), ``iat``, ``exp``,
a ``jti`` and the revocation generation it was issued in: :meth:`TokenAuthority.revoke_all`
bumps the generation, and every token issued before becomes invalid at once, as when the live
service rotates its keys.

Verifying a signature on every request would dominate the sandbox's cost per request, so a
verified token is remembered (bounded) and later only its expiry and generation are checked.
"""

from __future__ import annotations

import hmac
import math
import secrets
import time
import uuid
from typing import Any, Final

import attrs

try:
    import jwt
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError(
        "the flinkey_async sandbox needs PyJWT: pip install 'flinkey-async[sandbox]'"
    ) from exc

__all__ = ["Credentials", "IssuedToken", "TokenAuthority"]

_ALGORITHM: Final = "HS256"
_ISSUER: Final = "flinkey-async-sandbox"
_CACHE_LIMIT: Final = 4096


@attrs.frozen(slots=True)
class Credentials:
    """The API key and the API Manager's login a client needs. Secrets stay out of ``repr``."""

    api_key: str = attrs.field(repr=False)
    username: str
    password: str = attrs.field(repr=False)

    @classmethod
    def random(cls) -> Credentials:
        return cls(
            api_key=secrets.token_hex(16),
            username=f"api-manager-{secrets.token_hex(3)}@sandbox.example.com",
            password=secrets.token_urlsafe(18),
        )

    def api_key_matches(self, candidate: str | None) -> bool:
        # aiohttp keeps header bytes that are not UTF-8 as surrogates: compare the bytes sent.
        return candidate is not None and hmac.compare_digest(
            candidate.encode("utf-8", "surrogateescape"), self.api_key.encode()
        )

    def login_matches(self, username: str, password: str) -> bool:
        # Both comparisons run, so the answer time does not tell which one failed.
        user_ok = hmac.compare_digest(username.encode(), self.username.encode())
        password_ok = hmac.compare_digest(password.encode(), self.password.encode())
        return user_ok and password_ok


@attrs.frozen(slots=True)
class IssuedToken:
    """A token as the token endpoint hands it out."""

    access_token: str = attrs.field(repr=False)
    expires_in: int
    expires_at: float


class TokenAuthority:
    """Issues and verifies the manager's bearer tokens.

    ``ttl`` (seconds, at least 1) applies to tokens issued from then on; it may be changed while
    the sandbox runs. ``subject`` is the manager's OAuth id, the claim the API resolves the
    manager from.
    """

    def __init__(self, *, ttl: int = 3600, subject: str | None = None) -> None:
        self.ttl = ttl
        self.subject = subject or str(uuid.uuid4())
        self._secret = secrets.token_bytes(32)
        self._generation = 0
        self._verified: dict[str, tuple[float, int]] = {}
        self.issued = 0

    @property
    def ttl(self) -> int:
        return self._ttl

    @ttl.setter
    def ttl(self, value: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"token_ttl must be a whole number of seconds >= 1, got {value!r}")
        self._ttl = value

    @property
    def generation(self) -> int:
        """How many times all tokens were revoked."""
        return self._generation

    def issue(self, *, ttl: float | None = None) -> IssuedToken:
        """A new signed token. ``ttl`` overrides the default (tests pass a negative one to get a
        correctly signed token that has already expired)."""
        lifetime = self._ttl if ttl is None else ttl
        now = time.time()
        expires_at = now + lifetime
        claims: dict[str, Any] = {
            "iss": _ISSUER,
            "sub": self.subject,
            "iat": int(now),
            # exp is a whole second (RFC 7519 NumericDate as PyJWT checks it); rounding up keeps
            # the token valid for at least the advertised lifetime.
            "exp": math.ceil(expires_at),
            "jti": secrets.token_hex(8),
            "gen": self._generation,
        }
        token = jwt.encode(claims, self._secret, algorithm=_ALGORITHM)
        self.issued += 1
        return IssuedToken(
            access_token=token, expires_in=max(0, math.ceil(lifetime)), expires_at=expires_at
        )

    def verify(self, token: str) -> bool:
        """True for a token of this sandbox that is well-formed, unexpired and not revoked."""
        if not token.isascii():  # a JWT is base64url and dots; header bytes may be anything
            return False
        known = self._verified.get(token)
        if known is not None:
            expires_at, generation = known
            if generation == self._generation and time.time() < expires_at:
                return True
            del self._verified[token]
            return False
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[_ALGORITHM],
                issuer=_ISSUER,
                options={"require": ["exp", "iat", "sub", "gen"]},
            )
        except jwt.PyJWTError:
            return False
        if claims.get("gen") != self._generation or claims.get("sub") != self.subject:
            return False
        if len(self._verified) >= _CACHE_LIMIT:
            self._verified.clear()
        self._verified[token] = (float(claims["exp"]), self._generation)
        return True

    def revoke_all(self) -> None:
        """Invalidate every token issued so far; new tokens work again."""
        self._generation += 1
        self._verified.clear()

    def __repr__(self) -> str:
        return (
            f"<TokenAuthority ttl={self._ttl} issued={self.issued} generation={self._generation}>"
        )
