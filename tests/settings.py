"""The settings a test runs its gateway with: the tests' defaults written once, each test's changes on top."""

from __future__ import annotations

from typing import Any

from purchasegraph.settings import Settings

# The tests' development-token secret, over 64 bytes: long enough to sign HS512 too (a token the
# gateway must refuse, sent by the fuzz corpus).
SECRET = "test-secret-for-http-tests-" + "0123456789abcdef" * 3


def gateway_settings(database_url: str, **changes: Any) -> Settings:
    """A gateway on a test database, as the tests run one: the tests' secret, no demo seed of its
    own (the session seeded it), one pooled connection, no background sweep; ``changes`` on top."""
    base = Settings(database_url=database_url, jwt_secret=SECRET, seed_demo=False, pool_min_size=1, sweep_seconds=0)
    return base.with_changes(**changes)
