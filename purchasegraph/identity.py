"""Who is calling: bearer tokens in, a verified ``Claims`` out.

Development tokens are HS256 with a secret the embedded default keeps in its data folder.
When a JWKS URL is configured only RS256/ES256 tokens signed by one of its keys are accepted,
so a leaked development secret is worthless against a production deployment.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass

import jwt

from purchasegraph.settings import Settings

ASYMMETRIC_ALGORITHMS = ["RS256", "ES256"]
# Azure AD names the user `oid` and the directory `tid`; partner tools already speak that.
REQUIRED_CLAIMS = ["exp", "iat", "iss", "aud", "oid", "tid"]


class InvalidToken(Exception):
    """The bearer token cannot be trusted; the request is answered 401 and nothing runs."""


@dataclass(frozen=True)
class Claims:
    user_id: uuid.UUID
    tenant_id: uuid.UUID


class TokenVerifier:
    def __init__(self, settings: Settings, *, secret: str | None) -> None:
        self._issuer = settings.jwt_issuer
        self._audience = settings.jwt_audience
        self._secret = secret
        self._jwks = jwt.PyJWKClient(settings.jwks_url, cache_keys=True) if settings.jwks_url else None
        if self._jwks is None and not secret:
            raise ValueError("a JWT secret or a JWKS URL must be configured")

    async def verify(self, token: str) -> Claims:
        try:
            if self._jwks is not None:
                # PyJWKClient fetches over blocking urllib; keep it off the event loop.
                signing_key = await asyncio.to_thread(self._jwks.get_signing_key_from_jwt, token)
                key: object = signing_key.key
                algorithms = ASYMMETRIC_ALGORITHMS
            else:
                key, algorithms = self._secret, ["HS256"]
            payload = jwt.decode(
                token,
                key,  # type: ignore[arg-type]
                algorithms=algorithms,
                audience=self._audience,
                issuer=self._issuer,
                options={"require": REQUIRED_CLAIMS},
                leeway=30,
            )
            return Claims(user_id=uuid.UUID(str(payload["oid"])), tenant_id=uuid.UUID(str(payload["tid"])))
        except (jwt.PyJWTError, ValueError, TypeError) as exc:
            raise InvalidToken(str(exc) or type(exc).__name__) from exc


def mint_token(
    *,
    secret: str,
    user_id: uuid.UUID,
    tenant_id: uuid.UUID,
    issuer: str,
    audience: str,
    ttl_seconds: int = 12 * 3600,
) -> str:
    """A development token, as an identity provider would issue for this user."""
    now = int(time.time())
    claims = {
        "oid": str(user_id),
        "tid": str(tenant_id),
        "sub": str(user_id),
        "iss": issuer,
        "aud": audience,
        "iat": now,
        "exp": now + ttl_seconds,
    }
    return jwt.encode(claims, secret, algorithm="HS256")
