"""Who the request is from: a bearer token checked, then the viewer read in one statement.

A missing token is anonymous. A token that is present must verify and name a user of the
directory whose account may sign in (``policy.may_sign_in``: a disabled account signs in to
nothing), or an application of a tenant this service has (with app roles it knows), else the
request is refused 401 before anything else runs. ``signed_in`` is that decision for every path
that turns verified claims into a principal: HTTP, the websocket's connect and each event.

Every 401 keeps ``extensions.code: UNAUTHENTICATED`` (what clients already branch on) and says why
in ``extensions.reason``, a ``TokenReason``; the messages are the gateway's own, never a library's.
"""

from __future__ import annotations

from purchasegraph.db.executor import Executor, RequestExecutor
from purchasegraph.gateway.errors import RequestCode, RequestError
from purchasegraph.identity import AppClaims, Claims, InvalidToken, TokenReason
from purchasegraph.policy import may_sign_in
from purchasegraph.runtime import Runtime
from purchasegraph.viewer import Viewer, load_principal


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


def refusal_reason(error: RequestError) -> TokenReason | None:
    """The reason of a 401 made by ``unauthenticated``, else None."""
    reason = error.extensions.get("reason")
    return next((known for known in TokenReason if known.value == reason), None)


async def signed_in(db: Executor, claims: Claims | AppClaims) -> Viewer:
    """The principal verified claims name, as the directory has them now; refused (401) when it has
    no such one, or when the account may not sign in (disabled, or its user left)."""
    viewer = await load_principal(db, claims)
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


async def authenticate(authorization: str | None, runtime: Runtime) -> tuple[Viewer | None, RequestExecutor]:
    """The viewer and the executor the request's statements run on (bound to the token's tenant)."""
    settings = runtime.settings
    if authorization is None:
        return None, RequestExecutor(runtime.pool, tenant_id=None, acquire_timeout=settings.acquire_timeout)
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise unauthenticated(TokenReason.MALFORMED, "The Authorization header must be `Bearer <token>`.")
    try:
        claims = await runtime.verifier.verify_principal(token.strip())
    except InvalidToken as exc:
        if exc.reason is TokenReason.KEYS_UNAVAILABLE:
            raise keys_unavailable() from None
        raise unauthenticated(exc.reason, f"The bearer token is not valid: {exc}.") from None
    db = RequestExecutor(runtime.pool, tenant_id=claims.tenant_id, acquire_timeout=settings.acquire_timeout)
    try:
        viewer = await signed_in(db, claims)
    except BaseException:
        await db.close()
        raise
    return viewer, db
