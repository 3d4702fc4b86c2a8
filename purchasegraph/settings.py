"""Configuration, read once from the environment (and CLI flags) into one frozen value."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import platformdirs

DEV_ISSUER = "purchasegraph-dev"
DEFAULT_AUDIENCE = "purchasegraph"


@dataclass(frozen=True)
class Settings:
    """Everything the app needs to start; ``database_url=None`` means the embedded server."""

    database_url: str | None = None
    data_dir: Path = Path(platformdirs.user_data_dir("purchasegraph"))
    production: bool = False
    # HS256 secret for development tokens; the embedded default keeps one in data_dir.
    jwt_secret: str | None = None
    # RS256/ES256 tokens are verified against this JWKS when it is set.
    jwks_url: str | None = None
    jwt_issuer: str = DEV_ISSUER
    jwt_audience: str = DEFAULT_AUDIENCE
    # Seed the demo world at start-up: always on the embedded default, opt-in with DATABASE_URL.
    seed_demo: bool | None = None
    pool_min_size: int = 2
    pool_max_size: int = 10
    # Seconds between lifecycle sweeps (renewals, trial conversions); 0 turns the sweep off.
    sweep_seconds: float = 60.0
    # Print the playground URL and demo tokens once the app is up (the `serve` command does).
    announce_url: str | None = None

    @property
    def embedded(self) -> bool:
        return self.database_url is None

    @property
    def should_seed(self) -> bool:
        return self.embedded if self.seed_demo is None else self.seed_demo

    def with_changes(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]


def _flag(value: str | None) -> bool | None:
    if value is None or value == "":
        return None
    return value.strip().lower() in {"1", "true", "yes", "on"}


def settings_from_env(env: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if env is None else env
    defaults = Settings()
    return Settings(
        database_url=env.get("DATABASE_URL") or None,
        data_dir=Path(env["PURCHASEGRAPH_DATA_DIR"]) if env.get("PURCHASEGRAPH_DATA_DIR") else defaults.data_dir,
        production=env.get("PURCHASEGRAPH_ENV", "development").lower() == "production",
        jwt_secret=env.get("PURCHASEGRAPH_JWT_SECRET") or None,
        jwks_url=env.get("PURCHASEGRAPH_JWKS_URL") or None,
        jwt_issuer=env.get("PURCHASEGRAPH_JWT_ISSUER") or defaults.jwt_issuer,
        jwt_audience=env.get("PURCHASEGRAPH_JWT_AUDIENCE") or defaults.jwt_audience,
        seed_demo=_flag(env.get("PURCHASEGRAPH_SEED_DEMO")),
        pool_min_size=int(env.get("PURCHASEGRAPH_POOL_MIN", defaults.pool_min_size)),
        pool_max_size=int(env.get("PURCHASEGRAPH_POOL_MAX", defaults.pool_max_size)),
        sweep_seconds=float(env.get("PURCHASEGRAPH_SWEEP_SECONDS", defaults.sweep_seconds)),
    )
