"""A bearer token's signature and claims are checked once and remembered, never past its expiry.

Clients send the same token with every request; ``TokenVerifier`` keeps what a verified token
names until the token expires (plus the leeway every date check allows) or until the key set
that verified it would be fetched again, whichever comes first. A refused token is never kept.
"""

from __future__ import annotations

import time
import uuid

import pytest

from purchasegraph.identity import (
    JWKS_CACHE_SECONDS,
    LEEWAY_SECONDS,
    Claims,
    InvalidToken,
    TokenVerifier,
    mint_token,
)
from purchasegraph.settings import DEFAULT_AUDIENCE, DEV_ISSUER, Settings

SECRET = "verified-tokens-test-secret-0123456789abcdef"
USER, TENANT = uuid.uuid4(), uuid.uuid4()
TTL = 600


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


class CountingVerifier(TokenVerifier):
    """Counts the full verifications (signature and claims) it makes."""

    checks = 0

    async def _verify(self, token: str) -> tuple[Claims | object, float, float | None]:  # type: ignore[override]
        self.checks += 1
        return await super()._verify(token)


def token(ttl: int = TTL) -> str:
    return mint_token(
        secret=SECRET, user_id=USER, tenant_id=TENANT, issuer=DEV_ISSUER, audience=DEFAULT_AUDIENCE, ttl_seconds=ttl
    )


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def verifier(clock: Clock) -> CountingVerifier:
    return CountingVerifier(Settings(jwt_secret=SECRET), secret=SECRET, clock=clock)


async def test_a_token_sent_again_is_not_checked_again(verifier: CountingVerifier) -> None:
    bearer = token()
    first = await verifier.verify_principal(bearer)
    again = await verifier.verify_principal(bearer)
    assert first == again == Claims(user_id=USER, tenant_id=TENANT)
    assert verifier.checks == 1


async def test_a_remembered_token_is_checked_afresh_once_it_has_expired(
    verifier: CountingVerifier, clock: Clock
) -> None:
    bearer = token(ttl=60)
    await verifier.verify_principal(bearer)
    clock.now += 60 + LEEWAY_SECONDS - 2
    await verifier.verify_principal(bearer)
    assert verifier.checks == 1, "still within its life and the leeway"
    clock.now += 5
    await verifier.verify_principal(bearer)
    assert verifier.checks == 2, "past its expiry it is verified again (and PyJWT, on the real clock, decides)"


async def test_a_remembered_token_is_checked_afresh_when_the_key_set_would_be(
    verifier: CountingVerifier, clock: Clock
) -> None:
    bearer = token(ttl=24 * 3600)
    await verifier.verify_principal(bearer)
    clock.now += JWKS_CACHE_SECONDS + 1
    await verifier.verify_principal(bearer)
    assert verifier.checks == 2


async def test_an_expired_token_is_refused_even_after_it_was_accepted(clock: Clock) -> None:
    # The real clock decides here: a token that expired (beyond the leeway) an hour ago.
    expired = mint_token(
        secret=SECRET, user_id=USER, tenant_id=TENANT, issuer=DEV_ISSUER, audience=DEFAULT_AUDIENCE, ttl_seconds=-3600
    )
    verifier = TokenVerifier(Settings(jwt_secret=SECRET), secret=SECRET, clock=clock)
    for _ in range(2):
        with pytest.raises(InvalidToken):
            await verifier.verify_principal(expired)


async def test_a_refused_token_is_never_remembered(verifier: CountingVerifier) -> None:
    bearer = token()
    forged = bearer[:-4] + ("AAAA" if not bearer.endswith("AAAA") else "BBBB")
    for _ in range(2):
        with pytest.raises(InvalidToken):
            await verifier.verify_principal(forged)
    assert verifier.checks == 2
    # The genuine token beside it is unaffected, and the forged one stays refused after it.
    assert await verifier.verify_principal(bearer) == Claims(user_id=USER, tenant_id=TENANT)
    with pytest.raises(InvalidToken):
        await verifier.verify_principal(forged)
