"""Who the request is from: a bearer token checked, then the viewer read in one statement
(which also names the tenant on the request's connection and takes the throttle's cost).

A missing token is anonymous. A token that is present must verify and name a user of the
directory whose account may sign in (``policy.may_sign_in``: a disabled account signs in to
nothing), or an application of a tenant this service has (with app roles it knows), else the
request is refused 401 before anything else runs. ``sign_in`` is that decision, token to
principal, for every path: HTTP, the websocket's connect, each subscription and each event.

Every 401 keeps ``extensions.code: UNAUTHENTICATED`` (what clients already branch on) and says why
in ``extensions.reason``, a ``TokenReason``; the messages are the gateway's own, never a library's.
"""

from __future__ import annotations

from dataclasses import dataclass

from purchasegraph.db.executor import Executor, Record, RequestExecutor
from purchasegraph.gateway.refusals import RequestCode, RequestError
from purchasegraph.gateway.throttle import (
    CostBucket,
    ThrottleStatus,
    anonymous_principal,
    app_principal,
    throttled,
    user_principal,
)
from purchasegraph.identity import AppClaims, Claims, InvalidToken, TokenReason
from purchasegraph.policy import may_sign_in
from purchasegraph.principals import Principal, app_from_row, load_principal, user_from_row
from purchasegraph.runtime import Runtime


def unauthenticated(reason: TokenReason, message: str) -> RequestError:
    """A 401 with its reason (RFC 6750: `invalid_token`, the reason as its description)."""
    return RequestError(
        RequestCode.UNAUTHENTICATED,
        message,
        status=401,
        headers={"WWW-Authenticate": f'Bearer error="invalid_token", error_description="{reason.value}"'},
        extensions={"reason": reason.value},
    )


# Seconds a client waits before retrying a token the signing keys could not check.
KEYS_RETRY_AFTER_SECONDS = 5


def keys_unavailable() -> RequestError:
    """A 503, not a 401: the identity provider's keys could not be fetched, so the token was not
    checked at all. A 401 would tell the client its token is bad and to sign in again, which cannot
    help (a fresh token is checked against the same missing keys)."""
    return RequestError(
        RequestCode.SERVICE_UNAVAILABLE,
        "The signing keys could not be fetched, so the token could not be checked; retry shortly.",
        status=503,
        headers={"Retry-After": str(KEYS_RETRY_AFTER_SECONDS)},
        extensions={"reason": TokenReason.KEYS_UNAVAILABLE.value},
    )


# The token verified, but names no principal that may sign in: the directory's answer, not the token's.
PRINCIPAL_REFUSED = frozenset({TokenReason.UNKNOWN_USER, TokenReason.UNKNOWN_TENANT, TokenReason.DISABLED_USER})


def refusal_reason(error: RequestError) -> TokenReason | None:
    """The ``TokenReason`` of a refusal made by ``sign_in`` (a 401, or the 503 of keys that could
    not be fetched), else None."""
    reason = error.extensions.get("reason")
    return next((known for known in TokenReason if known.value == reason), None)


def admitted(viewer: Principal | None, claims: Claims | AppClaims) -> Principal:
    """The principal verified claims name, as the directory has them now; refused (401) when it has
    no such one, or when the account may not sign in (disabled, or its user left)."""
    if viewer is None:
        if isinstance(claims, AppClaims):
            raise unauthenticated(
                TokenReason.UNKNOWN_TENANT,
                "The bearer token names an application of a tenant this service does not have.",
            )
        raise unauthenticated(TokenReason.UNKNOWN_USER, "The bearer token names a user this directory does not have.")
    if not may_sign_in(viewer):
        raise unauthenticated(
            TokenReason.DISABLED_USER, "The bearer token names a disabled account: it signs in to nothing."
        )
    return viewer


async def signed_in(db: Executor, claims: Claims | AppClaims) -> Principal:
    """``admitted`` on the principal read in its own statement (``sign_in`` without a take; the
    tests, which start from claims)."""
    return admitted(await load_principal(db, claims), claims)


# An HTTP request's opening statements (migration 0014): the tenant named on the connection ($1),
# the principal read under it and the request's cost taken from its bucket, in one round trip.
SIGN_IN_USER = "SELECT * FROM sign_in_user($1, $2, $3, $4, $5, $6)"
SIGN_IN_APP = "SELECT * FROM sign_in_app($1, $2, $3, $4, $5)"
SIGN_IN_ANONYMOUS = "SELECT * FROM sign_in_anonymous($1, $2, $3, $4, $5)"


@dataclass
class SignedIn:
    """Who the request is from, the executor its statements run on, and what its cost left."""

    viewer: Principal | None
    db: RequestExecutor
    throttle: ThrottleStatus | None


async def authenticate(
    authorization: str | None, runtime: Runtime, bucket: CostBucket, cost: int, address: str | None
) -> SignedIn:
    """The viewer, the executor the request's statements run on (bound to the token's tenant), and
    the bucket after ``cost`` was taken from it, all in the request's first round trip. A principal
    the directory does not have takes nothing from a bucket of its own (it is refused 401, paid from
    the client address's bucket: ``address_pays``); a disabled account pays for its refusal from
    its own, and once that is empty is refused 429 (the policy that refuses it is Python's,
    decided after the statement)."""
    if authorization is None:
        return await anonymous(runtime, bucket, cost, address)
    token = bearer_token(authorization)
    if token is None:
        raise unauthenticated(TokenReason.MALFORMED, "The Authorization header must be `Bearer <token>`.")
    try:
        return await sign_in(runtime, token, (bucket, cost))
    except RequestError as refused:
        if refusal_reason(refused) in NO_PRINCIPAL:
            await address_pays(runtime, bucket, cost, address)
        raise


async def anonymous(runtime: Runtime, bucket: CostBucket, cost: int, address: str | None) -> SignedIn:
    """No principal: no tenant on the executor, and the cost taken from the address's bucket."""
    db = RequestExecutor(runtime.pool, tenant_id=None, acquire_timeout=runtime.settings.acquire_timeout)
    row = await db.open(SIGN_IN_ANONYMOUS, anonymous_principal(address), *bucket.terms(cost))
    return SignedIn(None, db, bucket.status(*_take(row)))


# A verified token naming no principal the directory has: its sign-in statement took nothing.
NO_PRINCIPAL = frozenset({TokenReason.UNKNOWN_USER, TokenReason.UNKNOWN_TENANT})


async def address_pays(runtime: Runtime, bucket: CostBucket, cost: int, address: str | None) -> None:
    """A token naming nobody the directory has pays its refusal from the client address's bucket,
    and once that is empty is refused 429, not 401: whoever holds a signing key can mint a new
    subject for every request, never a new address. A disabled account already paid from its own
    bucket, in the statement that read it."""
    signed_in = await anonymous(runtime, bucket, cost, address)
    await signed_in.db.close()
    if signed_in.throttle is not None and not signed_in.throttle.granted:
        raise throttled(cost, signed_in.throttle)


def bearer_token(authorization: object) -> str | None:
    """The token of an Authorization value ``Bearer <token>`` (the scheme in any case), else None."""
    if not isinstance(authorization, str):
        return None
    scheme, _, token = authorization.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


async def sign_in(runtime: Runtime, token: str, take: tuple[CostBucket, int] | None = None) -> SignedIn:
    """Token to principal, the one way every path signs in (an HTTP request, a websocket's connect,
    each of its subscriptions and each event): the token verified, an executor bound to its tenant,
    the principal read on it and ``admitted``; with ``take``, the cost taken from the bucket in the
    same statement. A refusal is a RequestError: 401 with a ``TokenReason``, or 503 when the keys
    could not be fetched; the executor is closed when it raises, else the caller's to close."""
    try:
        claims = await runtime.verifier.verify_principal(token)
    except InvalidToken as exc:
        if exc.reason is TokenReason.KEYS_UNAVAILABLE:
            raise keys_unavailable() from None
        raise unauthenticated(exc.reason, f"The bearer token is not valid: {exc}.") from None
    db = RequestExecutor(runtime.pool, tenant_id=claims.tenant_id, acquire_timeout=runtime.settings.acquire_timeout)
    try:
        if take is None:
            return SignedIn(await signed_in(db, claims), db, None)
        bucket, cost = take
        if isinstance(claims, AppClaims):
            row = await db.open(SIGN_IN_APP, app_principal(claims.tenant_id, claims.app_id), *bucket.terms(cost))
            viewer: Principal | None = app_from_row(row, claims) if row is not None else None
        else:
            principal = user_principal(claims.tenant_id, claims.user_id)
            row = await db.open(SIGN_IN_USER, claims.user_id, principal, *bucket.terms(cost))
            viewer = user_from_row(row) if row is not None else None
        taken = bucket.status(*_take(row))
        # An empty bucket refuses before admission: a disabled account's token pays for each
        # refusal like any caller's request, and is held back like one once it has spent it.
        if taken is not None and not taken.granted:
            raise throttled(cost, taken)
        return SignedIn(admitted(viewer, claims), db, taken)
    except BaseException:
        await db.close()
        raise


def _take(row: Record | None) -> tuple[float | None, bool | None]:
    """What the statement's take left: (available, granted), or Nones when it took nothing."""
    return (row["available"], row["granted"]) if row is not None else (None, None)
