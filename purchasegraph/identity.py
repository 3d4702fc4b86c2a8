"""Who is calling: bearer tokens in, verified ``Claims`` (a user) or ``AppClaims`` (an application) out.

Development tokens are HS256 with a secret the embedded default keeps in its data folder.
When a JWKS URL is configured only RS256/ES256 tokens signed by one of its keys are accepted,
so a leaked development secret is worthless against a production deployment.

Two kinds of principal, told apart as Azure AD tells them apart: a user's token names the user
in ``oid``; an application's client-credential token says ``idtyp: "app"``, names the application
in ``appid`` (v1) or ``azp`` (v2) and carries the app roles its tenant's admin consented to in
``roles``. Both name their directory in ``tid``. An app token that also names a user, or carries a
role this API does not define, is refused outright rather than half-understood.
"""

from __future__ import annotations

import asyncio
import enum
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import jwt

from purchasegraph.settings import Settings

ASYMMETRIC_ALGORITHMS = ["RS256", "ES256"]
# What every token carries, a user's or an application's, by Azure AD's names (which partner tools
# already speak: `tid` is the directory); the rest depends on `idtyp`.
COMMON_CLAIMS = ["exp", "iat", "iss", "aud", "tid"]
# Claims only a user's token has: `oid` names the user, `scp` the scopes a user delegated. An app
# token carrying either claims to act for a user, which an application never does here.
USER_ONLY_CLAIMS = ("oid", "scp")


class AppRole(enum.StrEnum):
    """The app roles an application may hold, by the permission names of the commerce API.

    What each allows is the policy module's business (``purchasegraph.policy``); this list is what
    a token may name at all, so a role nobody defined is refused at the door instead of ignored.
    """

    # Read the tenant's self-service purchases, subscriptions, assignments and policies.
    READ_ALL = "SelfServicePurchase.Read.All"
    # Read and change the tenant's self-service purchase policies, and nothing else.
    POLICY_READ_WRITE = "Policy.ReadWrite.AllowSelfServicePurchase"


class InvalidToken(Exception):
    """The bearer token cannot be trusted; the request is answered 401 and nothing runs."""


@dataclass(frozen=True)
class Claims:
    """A user's verified token: the user and their directory."""

    user_id: uuid.UUID
    tenant_id: uuid.UUID


@dataclass(frozen=True)
class AppClaims:
    """An application's verified token: no user, the application, its tenant and its app roles.

    Unlike a user's directory roles, app roles come from the token: the identity provider issues
    them only as the tenant's admin consented, so revoking one takes effect when the token expires.
    """

    app_id: uuid.UUID
    tenant_id: uuid.UUID
    roles: frozenset[AppRole]


def _uuid_claim(payload: Mapping[str, Any], name: str) -> uuid.UUID:
    if name not in payload:
        raise InvalidToken(f"the token has no `{name}` claim")
    value = payload[name]
    if not isinstance(value, str):
        raise InvalidToken(f"`{name}` must be a GUID string")
    try:
        return uuid.UUID(value)
    except ValueError as exc:
        raise InvalidToken(f"`{name}` must be a GUID") from exc


def principal_from(payload: Mapping[str, Any]) -> Claims | AppClaims:
    """The principal a decoded, signature-checked payload names, or ``InvalidToken``.

    ``idtyp`` decides, as in Azure AD: absent or ``user`` is a user's token (``oid`` required, any
    ``roles`` ignored: a user's roles are read from the directory), ``app`` an application's.
    """
    kind = payload.get("idtyp", "user")
    if kind == "user":
        return Claims(user_id=_uuid_claim(payload, "oid"), tenant_id=_uuid_claim(payload, "tid"))
    if kind != "app":
        raise InvalidToken(f"unknown token type `idtyp: {kind!r}`")
    claimed_user = [name for name in USER_ONLY_CLAIMS if name in payload]
    if claimed_user:
        raise InvalidToken(f"an application token names no user, but this one carries `{claimed_user[0]}`")
    # v1 tokens name the client `appid`, v2 tokens `azp`; both present must agree.
    named = {_uuid_claim(payload, name) for name in ("appid", "azp") if name in payload}
    if len(named) != 1:
        raise InvalidToken("an application token names its application once, in `appid` or `azp`")
    roles = payload.get("roles")
    if not isinstance(roles, list) or not roles or not all(isinstance(r, str) for r in roles):
        raise InvalidToken("an application token carries its app roles in `roles`")
    known = {role.value for role in AppRole}
    unknown = sorted(set(roles) - known)
    if unknown:
        raise InvalidToken(f"unknown app role `{unknown[0]}`")
    return AppClaims(app_id=named.pop(), tenant_id=_uuid_claim(payload, "tid"), roles=frozenset(map(AppRole, roles)))


class TokenVerifier:
    def __init__(self, settings: Settings, *, secret: str | None) -> None:
        self._issuer = settings.jwt_issuer
        self._audience = settings.jwt_audience
        self._secret = secret
        self._jwks = jwt.PyJWKClient(settings.jwks_url, cache_keys=True) if settings.jwks_url else None
        if self._jwks is None and not secret:
            raise ValueError("a JWT secret or a JWKS URL must be configured")

    async def verify(self, token: str) -> Claims:
        """A user's token, verified. An application's token is refused here: callers of this
        method act for a user and would otherwise have to remember that some principals have none."""
        claims = await self.verify_principal(token)
        if not isinstance(claims, Claims):
            raise InvalidToken("an application token where a user's is required")
        return claims

    async def verify_principal(self, token: str) -> Claims | AppClaims:
        """A user's or an application's token, verified: signature, issuer, audience, dates, ids."""
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
                options={"require": COMMON_CLAIMS},
                leeway=30,
            )
            return principal_from(payload)
        except InvalidToken:
            raise
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


def mint_app_token(
    *,
    secret: str,
    app_id: uuid.UUID,
    tenant_id: uuid.UUID,
    roles: Iterable[AppRole],
    issuer: str,
    audience: str,
    ttl_seconds: int = 3600,
) -> str:
    """A development client-credential token, as Azure AD issues one to an application of that tenant."""
    now = int(time.time())
    claims = {
        "idtyp": "app",
        "appid": str(app_id),
        "azp": str(app_id),
        "tid": str(tenant_id),
        "roles": sorted(role.value for role in roles),
        "iss": issuer,
        "aud": audience,
        "iat": now,
        "exp": now + ttl_seconds,
    }
    return jwt.encode(claims, secret, algorithm="HS256")
