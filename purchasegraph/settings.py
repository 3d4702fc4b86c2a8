"""Configuration, read once from the environment (and CLI flags) into one frozen value."""

from __future__ import annotations

import datetime
import ipaddress
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlsplit

import platformdirs
from strawberry.http.websocket_origin import normalize_allowed_origins

DEV_ISSUER = "purchasegraph-dev"
DEFAULT_AUDIENCE = "purchasegraph"


@dataclass(frozen=True)
class QueryLimits:
    """What one HTTP request may ask for; every limit is checked before any SQL runs."""

    max_depth: int = 10
    max_tokens: int = 2000
    # Aliases counted through fragment spreads: a fragment with 5 aliases spread 3 times is 15.
    max_aliases: int = 30
    max_root_fields: int = 10
    # Operations per HTTP request; 1 means a JSON array body (a batch) is refused.
    max_batch: int = 1
    max_body_bytes: int = 256 * 1024
    # GitHub-style cost: the nodes a query could return, multiplying `first`/`last` down the tree.
    max_cost: int = 50_000


@dataclass(frozen=True)
class ThrottleSettings:
    """A leaky bucket of query-cost points per principal, kept in PostgreSQL (shared by replicas)."""

    maximum_available: int = 100_000
    # Points given back per second; 0 turns throttling off.
    restore_rate: int = 10_000


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
    # Issuers a token may name (PURCHASEGRAPH_JWT_ISSUER, comma-separated); each may be a template
    # with `{tid}`, filled with the token's own `tid`: a multi-tenant Entra ID app sees one per tenant.
    jwt_issuers: tuple[str, ...] = (DEV_ISSUER,)
    # Audiences a token may name (PURCHASEGRAPH_JWT_AUDIENCE, comma-separated): Entra ID's v1 tokens
    # carry the app id URI (`api://…`), v2 tokens the app (client) id.
    jwt_audiences: tuple[str, ...] = (DEFAULT_AUDIENCE,)
    # Seed the demo world at start-up: always on the embedded default, opt-in with DATABASE_URL.
    seed_demo: bool | None = None
    pool_min_size: int = 2
    pool_max_size: int = 10
    # Seconds between lifecycle sweeps (renewals, trial conversions); 0 turns the sweep off.
    sweep_seconds: float = 60.0
    limits: QueryLimits = QueryLimits()
    # An Apollo persisted-query manifest; with require_trusted_documents only its documents run.
    trusted_documents: Path | None = None
    require_trusted_documents: bool = False
    throttle: ThrottleSettings = ThrottleSettings()
    # Seconds a request may wait for a pool connection, and a statement may run, before the
    # request fails fast with SERVICE_UNAVAILABLE instead of hanging on a sick database.
    acquire_timeout: float = 5.0
    statement_timeout: float = 10.0
    # DataLoader batching; off only to benchmark what batching buys (the "naive" contender).
    dataloaders: bool = True
    # Reads the compiler understands run as one SQL statement building the JSON (compiled/).
    compiled_reads: bool = True
    # Print the playground URL and demo tokens once the app is up (the `serve` command does).
    announce_url: str | None = None
    # How `serve` writes log lines: "json" (one object a line) or "text"; None means JSON in
    # production and text in development.
    log_format: str | None = None
    # The app clock's date (PURCHASEGRAPH_TODAY): the server, its seed and every date rule live on
    # this day at the real time of day. For tests and rehearsals; refused in production.
    today: datetime.date | None = None
    # Origins whose pages may call the API from a browser, over HTTP (CORS) and websockets alike
    # (PURCHASEGRAPH_CORS_ORIGINS): ("*",) for any. None means the mode's default: any origin in
    # development, none in production (same-origin pages and clients without an Origin still work).
    cors_origins: tuple[str, ...] | None = None
    # Streaming standbys that serve queries (PURCHASEGRAPH_REPLICA_URLS, comma-separated): empty
    # means none, and every request runs on the primary.
    replica_urls: tuple[str, ...] = ()
    # Seconds a replica may trail the primary and still serve reads without X-Read-After
    # (PURCHASEGRAPH_REPLICA_MAX_LAG); one further behind leaves the rotation until it catches up.
    replica_max_lag: float = 5.0
    # Seconds a read with X-Read-After waits for a replica to replay that far before it runs on
    # the primary instead (PURCHASEGRAPH_READ_AFTER_WAIT, given in milliseconds: 200).
    read_after_wait: float = 0.2
    # Addresses (or CIDR networks) of the proxies in front of `serve` whose X-Forwarded-For names
    # the client (PURCHASEGRAPH_TRUSTED_PROXIES, comma-separated): an anonymous client's throttle
    # bucket is keyed on its address, so a header from anyone else is ignored. None by default.
    trusted_proxies: tuple[str, ...] = ()

    @property
    def allowed_origins(self) -> frozenset[str]:
        """The origins in force: the configured ones, else the mode's default."""
        if self.cors_origins is not None:
            return cors_origins_from(self.cors_origins)
        return frozenset() if self.production else frozenset({ANY_ORIGIN})

    @property
    def jwt_issuer(self) -> str:
        """The issuer (template) development tokens are minted with: the first configured."""
        return self.jwt_issuers[0]

    @property
    def jwt_audience(self) -> str:
        """The audience development tokens are minted for: the first configured."""
        return self.jwt_audiences[0]

    @property
    def embedded(self) -> bool:
        return self.database_url is None

    @property
    def should_seed(self) -> bool:
        return self.embedded if self.seed_demo is None else self.seed_demo

    @property
    def effective_log_format(self) -> str:
        if self.log_format is not None:
            return self.log_format
        return "json" if self.production else "text"

    def with_changes(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]


def _flag(value: str | None) -> bool | None:
    if value is None or value == "":
        return None
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _list(raw: str | None) -> tuple[str, ...]:
    """A comma-separated setting, each item stripped, empty ones dropped."""
    return tuple(item.strip() for item in (raw or "").split(",") if item.strip())


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number, not {raw!r}") from None


LOG_FORMATS = ("json", "text")


def _log_format(raw: str | None) -> str | None:
    if raw is None or raw.strip() == "":
        return None
    value = raw.strip().lower()
    if value not in LOG_FORMATS:
        raise ValueError(f"PURCHASEGRAPH_LOG_FORMAT must be json or text, not {raw!r}")
    return value


def _date(env: Mapping[str, str], name: str) -> datetime.date | None:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return None
    try:
        return datetime.date.fromisoformat(raw.strip())
    except ValueError:
        raise ValueError(f"{name} must be a date as YYYY-MM-DD, not {raw!r}") from None


ANY_ORIGIN = "*"


# A host as a browser's Origin header spells it: ASCII labels (an internationalised name in its
# punycode form), or an IP address.
_HOST_LABELS = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*")


def _sent_by_browsers(origin: str) -> bool:
    """Whether a browser can send this (normalised) origin: a host it can spell and a real port
    (any scheme: hybrid apps send `capacitor://localhost`). A wildcard host
    (``https://*.app.example``) or a Unicode one would be accepted by the comparison and then
    never match anything."""
    parts = urlsplit(origin)
    host = parts.hostname or ""
    if parts.port == 0:
        return False
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return _HOST_LABELS.fullmatch(host) is not None
    return True


def cors_origins_from(origins: Iterable[str]) -> frozenset[str]:
    """Origins as browsers send them (``https://Example.com:443`` is ``https://example.com``), or
    ``{"*"}``; anything that is not an origin a browser sends (a path, ``null``, a wildcard host)
    is refused rather than never matched."""
    listed = [origin.strip() for origin in origins if origin.strip()]
    if ANY_ORIGIN in listed and len(listed) > 1:
        raise ValueError("PURCHASEGRAPH_CORS_ORIGINS is either `*` or a list of origins, not both")
    try:
        normalized = normalize_allowed_origins(listed)
    except ValueError as error:
        raise ValueError(f"PURCHASEGRAPH_CORS_ORIGINS: {error}") from None
    unsendable = sorted(origin for origin in normalized if origin != ANY_ORIGIN and not _sent_by_browsers(origin))
    if unsendable:
        raise ValueError(
            f"PURCHASEGRAPH_CORS_ORIGINS: {unsendable[0]!r} is no origin a browser sends: one host "
            "(no wildcard; an internationalised name in its xn-- form), a port from 1"
        )
    return normalized


def _cors_origins(raw: str | None) -> tuple[str, ...] | None:
    if raw is None or raw.strip() == "":
        return None
    return tuple(sorted(cors_origins_from(raw.split(","))))


def _limits_from_env(env: Mapping[str, str]) -> QueryLimits:
    d = QueryLimits()
    return QueryLimits(
        max_depth=int(_number(env, "PURCHASEGRAPH_MAX_DEPTH", d.max_depth)),
        max_tokens=int(_number(env, "PURCHASEGRAPH_MAX_TOKENS", d.max_tokens)),
        max_aliases=int(_number(env, "PURCHASEGRAPH_MAX_ALIASES", d.max_aliases)),
        max_root_fields=int(_number(env, "PURCHASEGRAPH_MAX_ROOT_FIELDS", d.max_root_fields)),
        max_batch=int(_number(env, "PURCHASEGRAPH_MAX_BATCH", d.max_batch)),
        max_body_bytes=int(_number(env, "PURCHASEGRAPH_MAX_BODY_BYTES", d.max_body_bytes)),
        max_cost=int(_number(env, "PURCHASEGRAPH_MAX_COST", d.max_cost)),
    )


def settings_from_env(env: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if env is None else env
    defaults = Settings()
    return Settings(
        database_url=env.get("DATABASE_URL") or None,
        data_dir=Path(env["PURCHASEGRAPH_DATA_DIR"]) if env.get("PURCHASEGRAPH_DATA_DIR") else defaults.data_dir,
        production=env.get("PURCHASEGRAPH_ENV", "development").lower() == "production",
        jwt_secret=env.get("PURCHASEGRAPH_JWT_SECRET") or None,
        jwks_url=env.get("PURCHASEGRAPH_JWKS_URL") or None,
        jwt_issuers=_list(env.get("PURCHASEGRAPH_JWT_ISSUER")) or defaults.jwt_issuers,
        jwt_audiences=_list(env.get("PURCHASEGRAPH_JWT_AUDIENCE")) or defaults.jwt_audiences,
        seed_demo=_flag(env.get("PURCHASEGRAPH_SEED_DEMO")),
        pool_min_size=int(env.get("PURCHASEGRAPH_POOL_MIN", defaults.pool_min_size)),
        pool_max_size=int(env.get("PURCHASEGRAPH_POOL_MAX", defaults.pool_max_size)),
        sweep_seconds=_number(env, "PURCHASEGRAPH_SWEEP_SECONDS", defaults.sweep_seconds),
        limits=_limits_from_env(env),
        trusted_documents=Path(env["PURCHASEGRAPH_TRUSTED_DOCUMENTS"])
        if env.get("PURCHASEGRAPH_TRUSTED_DOCUMENTS")
        else None,
        require_trusted_documents=bool(_flag(env.get("PURCHASEGRAPH_REQUIRE_TRUSTED_DOCUMENTS"))),
        throttle=ThrottleSettings(
            maximum_available=int(_number(env, "PURCHASEGRAPH_THROTTLE_MAXIMUM", defaults.throttle.maximum_available)),
            restore_rate=int(_number(env, "PURCHASEGRAPH_THROTTLE_RESTORE_RATE", defaults.throttle.restore_rate)),
        ),
        dataloaders=_flag(env.get("PURCHASEGRAPH_DATALOADERS")) is not False,
        compiled_reads=_flag(env.get("PURCHASEGRAPH_COMPILED_READS")) is not False,
        acquire_timeout=_number(env, "PURCHASEGRAPH_ACQUIRE_TIMEOUT", defaults.acquire_timeout),
        statement_timeout=_number(env, "PURCHASEGRAPH_STATEMENT_TIMEOUT", defaults.statement_timeout),
        log_format=_log_format(env.get("PURCHASEGRAPH_LOG_FORMAT")),
        today=_date(env, "PURCHASEGRAPH_TODAY"),
        cors_origins=_cors_origins(env.get("PURCHASEGRAPH_CORS_ORIGINS")),
        replica_urls=_list(env.get("PURCHASEGRAPH_REPLICA_URLS")),
        replica_max_lag=_number(env, "PURCHASEGRAPH_REPLICA_MAX_LAG", defaults.replica_max_lag),
        read_after_wait=_number(env, "PURCHASEGRAPH_READ_AFTER_WAIT", defaults.read_after_wait * 1000) / 1000,
        trusted_proxies=_list(env.get("PURCHASEGRAPH_TRUSTED_PROXIES")),
    )
