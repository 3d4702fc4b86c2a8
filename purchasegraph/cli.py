"""`purchasegraph serve | migrate | seed | sweep | token EMAIL | demo-tokens | trusted-documents | schema`
and `purchasegraph catalogue`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from purchasegraph.settings import Settings, settings_from_env

if TYPE_CHECKING:
    from purchasegraph.runtime import Runtime

T = TypeVar("T")

EXIT_USAGE = 2
EXIT_NOT_FOUND = 3


def _settings(args: argparse.Namespace) -> Settings:
    settings = settings_from_env()
    if getattr(args, "data_dir", None):
        settings = settings.with_changes(data_dir=Path(args.data_dir).expanduser().resolve())
    if getattr(args, "production", False):
        settings = settings.with_changes(production=True)
    return settings


def _run(args: argparse.Namespace, work: Callable[[Runtime], Awaitable[T]], *, seed: bool = False) -> T:
    """Start the database side these flags and the environment name, do ``work``, stop it again."""
    from purchasegraph.runtime import running

    async def run() -> T:
        async with running(_settings(args), seed=seed) as runtime:
            return await work(runtime)

    return asyncio.run(run())


def _print_token(minted: str | None, missing: str) -> int:
    if minted is None:
        print(missing, file=sys.stderr)
        return EXIT_NOT_FOUND
    print(minted)
    return 0


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    from purchasegraph.app import create_app
    from purchasegraph.observability.logs import configure_logging

    if args.workers < 1:
        print("purchasegraph serve: --workers must be 1 or more", file=sys.stderr)
        return EXIT_USAGE
    url = f"http://{args.host}:{args.port}/graphql"
    settings = _settings(args).with_changes(announce_url=url if args.workers == 1 else None)
    # One handler on the root logger, JSON or text, for ours and uvicorn's records alike; our
    # request line (INFO, purchasegraph.request) replaces uvicorn's access log, which would
    # print the URL with its query string, and so a GET's variables.
    configure_logging(settings.effective_log_format, args.log_level)
    # On SIGTERM uvicorn stops accepting, lets in-flight requests finish (up to 30 s), then the
    # lifespan closes the pool and stops the embedded server.
    options: dict[str, Any] = {
        "host": args.host,
        "port": args.port,
        "log_level": args.log_level,
        "log_config": None,
        "access_log": False,
        "timeout_graceful_shutdown": 30,
        # A websocket message is held to the HTTP body limit; uvicorn's default is 16 MiB.
        "ws_max_size": settings.limits.max_body_bytes,
        # The client's address is the connection's unless a trusted proxy forwarded it: uvicorn
        # would otherwise believe any X-Forwarded-For from 127.0.0.1, and a local client could
        # name a fresh address, so a fresh anonymous throttle bucket, on every request.
        "proxy_headers": bool(settings.trusted_proxies),
        "forwarded_allow_ips": list(settings.trusted_proxies),
    }
    if args.workers == 1:
        try:
            app = create_app(settings)
        except ValueError as error:  # a manifest it cannot read: say so, not a traceback
            print(f"purchasegraph serve: {error}", file=sys.stderr)
            return EXIT_USAGE
        uvicorn.run(app, **options)
        return 0
    # Worker processes build their own app from the environment: hand the flags down through it.
    # They share one embedded server (one data folder) and migrate under an advisory lock.
    os.environ["PURCHASEGRAPH_DATA_DIR"] = str(settings.data_dir)
    if settings.production:
        os.environ["PURCHASEGRAPH_ENV"] = "production"
    print(f"purchasegraph: {args.workers} workers, playground at {url}", file=sys.stderr)
    uvicorn.run("purchasegraph.app:create_app_from_env", factory=True, workers=args.workers, **options)
    return 0


def migrate(args: argparse.Namespace) -> int:
    async def work(runtime: Runtime) -> list[int]:
        return runtime.migrated

    applied = _run(args, work)
    print(f"applied migrations {applied}" if applied else "database is up to date")
    return 0


def seed(args: argparse.Namespace) -> int:
    async def work(runtime: Runtime) -> bool:
        return runtime.seeded

    print("seeded the demo world" if _run(args, work, seed=True) else "the demo world was already there")
    return 0


def token(args: argparse.Namespace) -> int:
    if args.app is not None:
        return _app_token(args)
    if args.email is None or args.tenant is not None or args.role:
        print("give EMAIL for a user's token, or --app CLIENT_ID --tenant TENANT --role ROLE", file=sys.stderr)
        return EXIT_USAGE
    from purchasegraph.demo.tokens import user_token

    async def work(runtime: Runtime) -> str | None:
        return await user_token(runtime, args.email, ttl_seconds=args.ttl)

    missing = f"no user signs in as {args.email!r} (try `purchasegraph demo-tokens`)"
    return _print_token(_run(args, work), missing)


# A tenant named by its directory id or its primary domain, found in the tenant directory (domains
# are kept there in lower case); the owner's pool, since it may be any tenant.
SELECT_TENANT_BY_ID_OR_DOMAIN = """
SELECT tenant_id AS id FROM tenant_directory WHERE tenant_id::text = lower($1) OR primary_domain = lower($1)
"""


def _app_token(args: argparse.Namespace) -> int:
    """A client-credential token for an application of a tenant, as Azure AD would issue one. The
    application needs no registration here: its app roles are the token's, as the identity provider
    grants them; only the tenant must exist, since the gateway refuses a token of any other."""
    import uuid

    from purchasegraph.db.executor import PoolExecutor
    from purchasegraph.identity import AppRole, mint_app_token

    if args.email is not None or args.tenant is None or not args.role:
        print("--app takes --tenant and at least one --role, and no EMAIL", file=sys.stderr)
        return EXIT_USAGE
    try:
        app_id = uuid.UUID(args.app)
    except ValueError:
        print(f"--app must be an application (client) id, a GUID; got {args.app!r}", file=sys.stderr)
        return EXIT_USAGE

    async def work(runtime: Runtime) -> str | None:
        tenant = await PoolExecutor(runtime.owner_pool).fetchrow(SELECT_TENANT_BY_ID_OR_DOMAIN, args.tenant)
        if tenant is None or runtime.jwt_secret is None:
            return None
        return mint_app_token(
            secret=runtime.jwt_secret,
            app_id=app_id,
            tenant_id=tenant["id"],
            roles=[AppRole(r) for r in args.role],
            issuer=runtime.settings.jwt_issuer,
            audience=runtime.settings.jwt_audience,
            ttl_seconds=args.ttl,
        )

    return _print_token(_run(args, work), f"no tenant has the id or domain {args.tenant!r}")


def demo_tokens(args: argparse.Namespace) -> int:
    from purchasegraph.demo.tokens import demo_tokens as mint_all

    tokens = _run(args, mint_all)
    if not tokens:
        print("the demo world is not seeded here: run `purchasegraph seed` first", file=sys.stderr)
        return EXIT_NOT_FOUND
    if args.json:
        print(json.dumps(tokens, indent=2))
    else:
        for t in tokens:
            print(f"{t['actor']:<16} {t['email']:<44} {t['token']}")
    return 0


def sweep(args: argparse.Namespace) -> int:
    from purchasegraph.commerce.lifecycle import sweep as run_sweep
    from purchasegraph.db.executor import PoolExecutor

    async def work(runtime: Runtime) -> str:
        report = await run_sweep(PoolExecutor(runtime.owner_pool), runtime.processor)
        return (
            f"renewed {len(report.renewed)}, renewal failed {len(report.failed)}, "
            f"statuses stored {report.status_changes}"
        )

    print(_run(args, work))
    return 0


def trusted_documents(args: argparse.Namespace) -> int:
    from purchasegraph.gateway.manifest import InvalidDocument, build_manifest

    try:
        manifest = build_manifest(Path(p) for p in args.paths)
    except (InvalidDocument, OSError) as error:
        print(f"purchasegraph trusted-documents: {error}", file=sys.stderr)
        return EXIT_USAGE
    text = json.dumps(manifest, indent=2) + "\n"
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"{len(manifest['operations'])} operations written to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def print_schema(args: argparse.Namespace) -> int:
    from purchasegraph.schema import schema

    sys.stdout.write(schema.as_str() + "\n")
    return 0


def catalogue(args: argparse.Namespace) -> int:
    from purchasegraph.catalogue_listing import ListedProduct, as_json, as_text, read_catalogue
    from purchasegraph.db.executor import PoolExecutor

    market = args.market.upper() if args.market else None
    if market is not None and (len(market) != 2 or not market.isalpha()):
        print(f"--market takes an ISO 3166 alpha-2 country code, e.g. US; got {args.market!r}", file=sys.stderr)
        return EXIT_USAGE

    async def work(runtime: Runtime) -> list[ListedProduct]:
        return await read_catalogue(PoolExecutor(runtime.owner_pool), market=market)

    listing = _run(args, work)
    if not listing:
        where = f" with a price in {market}" if market else ""
        print(f"the catalogue has no products{where}", file=sys.stderr)
        return EXIT_NOT_FOUND
    if args.json:
        print(json.dumps(as_json(listing), indent=2))
    else:
        sys.stdout.write(as_text(listing))
    return 0


def standby(args: argparse.Namespace) -> int:
    """Run a streaming hot standby of the embedded server until interrupted, for developing
    against a read replica; the primary is migrated (and seeded) as ``serve`` would."""
    from purchasegraph.db.standby import start_standby

    settings = _settings(args)
    if settings.database_url is not None:
        print("purchasegraph standby: streams from the embedded server only; unset DATABASE_URL", file=sys.stderr)
        return EXIT_USAGE

    async def work(runtime: Runtime) -> int:
        assert runtime.embedded is not None  # no DATABASE_URL: the embedded server runs
        folder = Path(args.standby_dir) if args.standby_dir else runtime.settings.data_dir / "standby"
        replica = await asyncio.to_thread(start_standby, runtime.embedded, folder.expanduser())
        print(replica.database_url, flush=True)
        try:
            await asyncio.Event().wait()
        finally:
            await asyncio.to_thread(replica.stop)
        return 0

    with contextlib.suppress(KeyboardInterrupt):
        return _run(args, work, seed=settings.should_seed)
    return 0


def _serve_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument(
        "--production",
        action="store_true",
        help="No GraphiQL, no introspection, no demo page; needs PURCHASEGRAPH_JWT_SECRET or PURCHASEGRAPH_JWKS_URL.",
    )
    p.add_argument(
        "--workers", type=int, default=1, help="Processes serving requests (default 1); use the cores you have."
    )
    p.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])


def _token_options(p: argparse.ArgumentParser) -> None:
    from purchasegraph.identity import AppRole

    p.add_argument("email", nargs="?", help="The user's sign-in name, e.g. paula.purchaser@contoso.example")
    p.add_argument("--app", metavar="CLIENT_ID", help="An application (client) id, a GUID: an app-only token.")
    p.add_argument("--tenant", metavar="TENANT", help="With --app: the application's tenant, by id or domain.")
    p.add_argument(
        "--role",
        action="append",
        default=[],
        choices=[r.value for r in AppRole],
        metavar="ROLE",
        help=f"With --app: an app role it holds, one of {', '.join(r.value for r in AppRole)} (repeat for more).",
    )
    p.add_argument("--ttl", type=int, default=12 * 3600, help="Lifetime in seconds (default 12 h).")


TRUSTED_DOCUMENTS = (
    "Build an Apollo persisted-query manifest (for PURCHASEGRAPH_TRUSTED_DOCUMENTS) from .graphql files or "
    "folders: one entry per named operation, keyed by the SHA-256 of the text Apollo Client sends for it (the "
    "manifest Apollo's generate-persisted-query-manifest writes). Every operation is validated against the "
    "schema first."
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="purchasegraph",
        description="GraphQL gateway over a self-service purchase system. Without DATABASE_URL it runs "
        "its own PostgreSQL in a data folder and seeds a demo world.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    def command(
        name: str, help_: str, run: Callable[[argparse.Namespace], int], description: str | None = None
    ) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_, description=description or help_)
        if description is None:  # every command but trusted-documents reads the database or its folder
            sub.add_argument("--data-dir", help="Data folder of the embedded server and dev secret.")
        sub.set_defaults(run=run)
        return sub

    _serve_options(command("serve", "Run the gateway (playground at /graphql).", serve))
    command("migrate", "Apply pending migrations and exit.", migrate)
    command("seed", "Migrate and seed the demo world (once).", seed)
    command("sweep", "Run the lifecycle sweep once: renewals, trial conversions, statuses.", sweep)
    _token_options(
        command("token", "Print a development bearer token for a user, or for an application (--app).", token)
    )
    p = command("demo-tokens", "Print a bearer token for every demo user.", demo_tokens)
    p.add_argument("--json", action="store_true", help="As [{email, tenant, actor, token}].")
    help_ = "Build a trusted-documents manifest from .graphql files."
    p = command("trusted-documents", help_, trusted_documents, TRUSTED_DOCUMENTS)
    p.add_argument("paths", nargs="+", help=".graphql files or folders holding them")
    p.add_argument("-o", "--output", help="Write the manifest here instead of stdout.")
    p = command("catalogue", "Print the catalogue this database sells: products, prices per market, links.", catalogue)
    p.add_argument("--market", help="Only this market (ISO 3166 alpha-2), with whether self-service is open there.")
    p.add_argument("--json", action="store_true", help="As a JSON list of products.")
    p = command("standby", "Run a streaming hot standby of the embedded server; print its URL.", standby)
    p.add_argument("--standby-dir", help="The standby's data folder (default: standby/ in the data folder).")
    help_ = "Print the schema in SDL; `purchasegraph schema > schema.graphql` refreshes the committed copy."
    command("schema", help_, print_schema)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    code: int = args.run(args)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
