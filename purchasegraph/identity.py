"""Who is calling: bearer tokens in, verified ``Claims`` (a user) or ``AppClaims`` (an application) out.

Development tokens are HS256 with a secret the embedded default keeps in its data folder.
When a JWKS URL is configured only RS256/ES256 tokens signed by one of its keys are accepted,
so a leaked development secret is worthless against a production deployment.

Tokens are read as Entra ID (Azure AD) issues access tokens, v1 and v2
(https://learn.microsoft.com/entra/identity-platform/access-token-claims-reference):

- A user's token carries the scopes the user delegated in ``scp`` and names the user in ``oid``;
  its ``sub`` is a pairwise id, never equal to ``oid``.
- An application's (client-credential, "app-only") token carries no ``scp``; it names the
  application in ``appid`` (v1) or ``azp`` (v2), its service principal in ``oid`` (equal to
  ``sub``), and the app roles its tenant's admin consented to in ``roles``. ``idtyp: "app"`` says
  so outright, but ``idtyp`` is an optional claim: without it, no ``scp`` and ``oid == sub`` is
  an application's token.
- Both name their directory in ``tid``; a multi-tenant API sees one issuer per tenant, so the
  configured issuers may be templates with ``{tid}``, filled with the token's own ``tid``.

A token that is neither exactly (an app token with delegated scopes, a role this API does not
define) is refused outright rather than half-understood. Every refusal says why with a stable
``TokenReason``.
"""

from __future__ import annotations

import asyncio
import base64
import enum
import hashlib
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NotRequired, TypedDict, Unpack

import jwt

from purchasegraph.gateway.lru import ByteBoundedLRU, text_bytes
from purchasegraph.settings import Settings

ASYMMETRIC_ALGORITHMS = ["RS256", "ES256"]
# What every token carries, a user's or an application's, by Entra ID's names (which partner tools
# already speak: `tid` is the directory); the rest depends on whose token it is.
COMMON_CLAIMS = ["exp", "iat", "iss", "aud", "tid"]
# The placeholder of an issuer template, filled with the token's own `tid`.
TENANT_PLACEHOLDER = "{tid}"
# How long a fetched JWKS is trusted before it is fetched again: a key the identity provider
# withdraws stops verifying tokens at most this long after. (A token naming a `kid` the cached set
# lacks refetches at once, at most every 30 s: PyJWT's cool-down.)
JWKS_CACHE_SECONDS = 300.0
# A JWKS fetch that takes longer fails (SIGNING_KEYS_UNAVAILABLE) instead of holding the request,
# and every other token check waiting on PyJWT's client lock, for PyJWT's default 30 s.
JWKS_FETCH_TIMEOUT_SECONDS = 5.0
# The delegated scope development user tokens carry. The gateway does not check `scp`'s value: a
# user's rights are their directory roles, read per request; `scp` only says "a user's token".
USER_SCOPE = "user_impersonation"
# The client (application) id development user tokens name in `azp`: the playground, as a client.
DEV_CLIENT_ID = uuid.UUID("8c6c6a3e-2d1b-4c52-9a59-6f1d3c7f0b11")


class TokenReason(enum.StrEnum):
    """Why a bearer token was refused: ``extensions.reason`` of a 401 (``code`` stays
    ``UNAUTHENTICATED``), and the close reason of a refused websocket connection."""

    # No token where one is required (a websocket's connection_init without one).
    MISSING = "TOKEN_MISSING"
    # Not `Bearer <token>`, or not a JWT that can be decoded at all.
    MALFORMED = "TOKEN_MALFORMED"
    # The signature does not verify, its algorithm is not one accepted here (`none`, HS256 when a
    # JWKS is configured), or no key of the JWKS signed it.
    BAD_SIGNATURE = "TOKEN_SIGNATURE_INVALID"
    EXPIRED = "TOKEN_EXPIRED"
    # `nbf` or `iat` in the future (beyond 30 s of clock skew).
    NOT_YET_VALID = "TOKEN_NOT_YET_VALID"
    # `aud` is none of PURCHASEGRAPH_JWT_AUDIENCE.
    WRONG_AUDIENCE = "TOKEN_AUDIENCE_INVALID"
    # `iss` is none of PURCHASEGRAPH_JWT_ISSUER, each `{tid}` filled with the token's own `tid`.
    WRONG_ISSUER = "TOKEN_ISSUER_INVALID"
    # A required claim missing or of the wrong shape, or a token that is neither exactly a user's
    # nor exactly an application's.
    BAD_CLAIMS = "TOKEN_CLAIMS_INVALID"
    # The JWKS could not be fetched (or was no JWKS): the token was not checked. Answered 503, not
    # 401 (gateway/authentication.py): signing in again would not help, retrying will.
    KEYS_UNAVAILABLE = "SIGNING_KEYS_UNAVAILABLE"
    # Verified, but the directory has no such user in the token's tenant.
    UNKNOWN_USER = "USER_UNKNOWN"
    # Verified, but the account is disabled (or its user left): it signs in to nothing.
    DISABLED_USER = "USER_DISABLED"
    # Verified application token of a tenant this service does not have.
    UNKNOWN_TENANT = "TENANT_UNKNOWN"


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
    """The bearer token cannot be trusted; the request is answered 401 and nothing runs.

    ``reason`` is the stable code a client may act on; the message is for people."""

    def __init__(self, message: str, reason: TokenReason = TokenReason.BAD_CLAIMS) -> None:
        super().__init__(message)
        self.reason = reason


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


def is_app_token(payload: Mapping[str, Any]) -> bool:
    """Whose token this is, as Entra ID tells them apart: ``idtyp`` when present (an optional
    claim), else an application's token is the one without delegated scopes whose ``oid`` (the
    service principal) is its ``sub``. A user's ``sub`` is a pairwise id, never their ``oid``."""
    kind = payload.get("idtyp")
    if kind is not None:
        if kind not in ("app", "user"):
            raise InvalidToken(f"unknown token type `idtyp: {kind!r}`")
        return bool(kind == "app")
    if "scp" in payload:
        return False
    return "oid" in payload and payload.get("oid") == payload.get("sub")


def principal_from(payload: Mapping[str, Any]) -> Claims | AppClaims:
    """The principal a decoded, signature-checked payload names, or ``InvalidToken``.

    A user's token needs ``oid`` (any ``roles`` are ignored: a user's roles are read from the
    directory); an application's is checked by ``_app_principal``.
    """
    if not is_app_token(payload):
        return Claims(user_id=_uuid_claim(payload, "oid"), tenant_id=_uuid_claim(payload, "tid"))
    return _app_principal(payload)


def _app_principal(payload: Mapping[str, Any]) -> AppClaims:
    if "scp" in payload:
        raise InvalidToken("an application token acts for no user, but this one carries delegated scopes `scp`")
    # Entra's app-only tokens name the application's service principal in `oid`, equal to `sub`;
    # an `oid` naming anything else would be a user's, which an application's token never names.
    if "oid" in payload and payload.get("oid") != payload.get("sub"):
        raise InvalidToken("an application token's `oid` is its service principal, equal to `sub`")
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


def issuer_for(template: str, tenant_id: uuid.UUID | str) -> str:
    """The issuer a token of this tenant carries: the template with ``{tid}`` filled in."""
    return template.replace(TENANT_PLACEHOLDER, str(tenant_id))


def _check_issuer(payload: Mapping[str, Any], issuers: Iterable[str]) -> None:
    """``iss`` must be one of the configured issuers, each template filled with the token's own
    ``tid`` exactly as the token spells it: a token of tenant A carrying tenant B's issuer (or an
    issuer of no tenant) is refused."""
    _uuid_claim(payload, "tid")  # a GUID, so a template can only ever be filled with one
    tenant = payload["tid"]
    issuer = payload.get("iss")
    # A string, compared as one: a list or an object is no issuer (and is not hashable either).
    if not isinstance(issuer, str) or issuer not in {issuer_for(template, tenant) for template in issuers}:
        raise InvalidToken("the token's issuer is not one this service trusts for its tenant", TokenReason.WRONG_ISSUER)


# PyJWT's refusals, most specific first (InvalidSignatureError is a DecodeError, and every
# PyJWKClientError but the connection's means no key of the JWKS signed the token).
_REASONS: list[tuple[type[Exception], TokenReason, str]] = [
    (jwt.ExpiredSignatureError, TokenReason.EXPIRED, "the token has expired"),
    (jwt.ImmatureSignatureError, TokenReason.NOT_YET_VALID, "the token is not valid yet"),
    (jwt.InvalidAudienceError, TokenReason.WRONG_AUDIENCE, "the token is for another audience"),
    (jwt.MissingRequiredClaimError, TokenReason.BAD_CLAIMS, "the token lacks a required claim"),
    (jwt.InvalidIssuedAtError, TokenReason.BAD_CLAIMS, "the token's `iat` is not a time"),
    (jwt.InvalidSignatureError, TokenReason.BAD_SIGNATURE, "the token's signature does not verify"),
    (jwt.InvalidAlgorithmError, TokenReason.BAD_SIGNATURE, "the token is signed with an algorithm not accepted here"),
    (jwt.PyJWKClientConnectionError, TokenReason.KEYS_UNAVAILABLE, "the signing keys could not be fetched"),
    (jwt.PyJWKClientError, TokenReason.BAD_SIGNATURE, "no trusted signing key signed the token"),
    (jwt.InvalidKeyError, TokenReason.BAD_SIGNATURE, "no trusted signing key signed the token"),
]


def _refusal(exc: Exception) -> InvalidToken:
    """Our own wording and reason for a library's refusal (its wording is not a stable interface)."""
    missing = exc.claim if isinstance(exc, jwt.MissingRequiredClaimError) else None
    for kind, reason, message in _REASONS:
        if isinstance(exc, kind):
            return InvalidToken(f"{message} (`{missing}`)" if missing else message, reason)
    return InvalidToken("the token is not a well-formed JWT", TokenReason.MALFORMED)


class SigningKeys(jwt.PyJWKClient):
    """PyJWT's JWKS client, for which a key set that cannot be had (the provider unreachable, slow,
    or answering anything but a JWKS with signing keys) is always a connection error, so
    SIGNING_KEYS_UNAVAILABLE: the token could not be checked, which says nothing against it. Only a
    ``kid`` the set lacks is the token's fault."""

    # When the key set now cached was fetched (the clock's seconds): a token verified with it is
    # trusted no longer than the set itself, so a key the provider withdraws stops verifying
    # remembered tokens too once the set would be fetched again.
    fetched_at: float = 0.0

    def fetch_data(self) -> Any:
        data = super().fetch_data()
        self.fetched_at = time.time()
        return data

    def get_signing_keys(self, refresh: bool = False) -> list[jwt.PyJWK]:
        try:
            return super().get_signing_keys(refresh)
        except jwt.PyJWKClientConnectionError:
            raise
        except (jwt.PyJWTError, ValueError) as exc:
            raise jwt.PyJWKClientConnectionError("the JWKS holds no usable signing keys") from exc


# Tokens already verified, by their exact text: a client sends the same bearer token with every
# request for an hour, and checking its signature and claims again each time was about a tenth
# of a compiled read's work in the gateway process. Bounded in bytes (``ByteBoundedLRU``).
VERIFIED_TOKENS_BYTES = 4 * 1024 * 1024
# Leeway on the dates of a token, as PyJWT is told.
LEEWAY_SECONDS = 30


@dataclass(frozen=True)
class _Verified:
    principal: Claims | AppClaims
    # Past this instant (seconds since the epoch) the token is checked afresh: its expiry plus the
    # leeway, or sooner, when the key set that verified it would have been fetched again.
    until: float


class TokenVerifier:
    def __init__(self, settings: Settings, *, secret: str | None, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._verified: ByteBoundedLRU[str, _Verified] = ByteBoundedLRU(
            VERIFIED_TOKENS_BYTES, lambda token, _v: text_bytes(token) + 512
        )
        self._issuers = settings.jwt_issuers
        self._audiences = list(settings.jwt_audiences)
        self._secret = secret
        # The key set is cached for JWKS_CACHE_SECONDS, never key by key: PyJWT's per-key cache
        # (`cache_keys`) has no expiry, so a key the identity provider withdrew (rotated out, or
        # compromised) would stay trusted until the process restarts.
        self._jwks = (
            SigningKeys(
                settings.jwks_url, cache_keys=False, lifespan=JWKS_CACHE_SECONDS, timeout=JWKS_FETCH_TIMEOUT_SECONDS
            )
            if settings.jwks_url
            else None
        )
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
        """A user's or an application's token, verified: signature, dates, audience, issuer, ids.
        A token verified before is taken from ``_verified`` until it expires; one refused is
        checked again each time (nothing a client sends wrongly is kept)."""
        now = self._clock()
        known = self._verified.get(token)
        if known is not None and now < known.until:
            return known.principal
        principal, expires, keys_fetched = await self._verify(token)
        # Never past the token's expiry, nor past the life of the key set that verified it (a
        # shared secret does not rotate while the process runs: the set's life from now).
        keys_fetched = now if keys_fetched is None else keys_fetched
        self._verified.put(
            token, _Verified(principal, until=min(expires + LEEWAY_SECONDS, keys_fetched + JWKS_CACHE_SECONDS))
        )
        return principal

    async def _verify(self, token: str) -> tuple[Claims | AppClaims, float, float | None]:
        """The token's principal, its expiry (``exp``) and when the key set that verified it was
        fetched (None for the shared secret), every check made."""
        keys_fetched: float | None = None
        try:
            if self._jwks is not None:
                # PyJWKClient fetches over blocking urllib; keep it off the event loop.
                # The JWK itself, not its bare key: the key then decides the algorithm (an RSA
                # key verifies RS256 only), never the `alg` the token names.
                key: object = await asyncio.to_thread(self._jwks.get_signing_key_from_jwt, token)
                keys_fetched = self._jwks.fetched_at
                algorithms = ASYMMETRIC_ALGORITHMS
            else:
                key, algorithms = self._secret, ["HS256"]
            payload = jwt.decode(
                token,
                key,  # type: ignore[arg-type]
                algorithms=algorithms,
                audience=self._audiences,
                options={"require": COMMON_CLAIMS},
                leeway=LEEWAY_SECONDS,
            )
        except (jwt.PyJWTError, ValueError, TypeError) as exc:
            raise _refusal(exc) from exc
        _check_issuer(payload, self._issuers)
        return principal_from(payload), float(payload["exp"]), keys_fetched


def pairwise_subject(user_id: uuid.UUID, audience: str) -> str:
    """A user's ``sub`` as Entra ID makes it: opaque, stable, and different for every application
    (here, every audience), so it never equals ``oid`` and says nothing across applications."""
    digest = hashlib.sha256(f"{audience}\0{user_id}".encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class UserTokenFields(TypedDict):
    """What a development user token says: whose it is, who issued it for whom, and for how long."""

    user_id: uuid.UUID
    tenant_id: uuid.UUID
    issuer: str
    audience: str
    ttl_seconds: NotRequired[int]
    name: NotRequired[str | None]
    preferred_username: NotRequired[str | None]


def user_token_claims(**fields: Unpack[UserTokenFields]) -> dict[str, Any]:
    """The claims of a v2 delegated access token, as Entra ID issues one to a client for this user
    (valid 12 hours unless ``ttl_seconds`` says otherwise)."""
    now = int(time.time())
    user_id, tenant_id, audience = fields["user_id"], fields["tenant_id"], fields["audience"]
    claims: dict[str, Any] = {
        "aud": audience,
        "iss": issuer_for(fields["issuer"], tenant_id),
        "iat": now,
        "nbf": now,
        "exp": now + fields.get("ttl_seconds", 12 * 3600),
        "azp": str(DEV_CLIENT_ID),
        "azpacr": "0",
        "oid": str(user_id),
        "scp": USER_SCOPE,
        "sub": pairwise_subject(user_id, audience),
        "tid": str(tenant_id),
        "ver": "2.0",
    }
    for optional in ("name", "preferred_username"):
        if fields.get(optional) is not None:
            claims[optional] = fields.get(optional)
    return claims


def mint_token(*, secret: str, **fields: Unpack[UserTokenFields]) -> str:
    """A development token, shaped as Entra ID issues a user's (``user_token_claims``); ``issuer``
    may be a template with ``{tid}``."""
    return jwt.encode(user_token_claims(**fields), secret, algorithm="HS256")


def service_principal_id(app_id: uuid.UUID, tenant_id: uuid.UUID) -> uuid.UUID:
    """The id of an application's service principal in a tenant: each tenant that consents to a
    multi-tenant application has its own. Development tokens derive it, stably."""
    return uuid.uuid5(app_id, str(tenant_id))


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
    """A development client-credential token, as Entra ID issues one to an application of that
    tenant: the service principal in ``oid`` and ``sub``, no ``scp``, the app roles in ``roles``."""
    now = int(time.time())
    principal = str(service_principal_id(app_id, tenant_id))
    claims = {
        "idtyp": "app",
        "appid": str(app_id),
        "azp": str(app_id),
        "oid": principal,
        "sub": principal,
        "tid": str(tenant_id),
        "roles": sorted(role.value for role in roles),
        "iss": issuer_for(issuer, tenant_id),
        "aud": audience,
        "iat": now,
        "nbf": now,
        "exp": now + ttl_seconds,
        "ver": "2.0",
    }
    return jwt.encode(claims, secret, algorithm="HS256")
