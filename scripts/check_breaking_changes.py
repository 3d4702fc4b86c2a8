"""Compare the working schema with a previous one and report what would break clients.

    python scripts/check_breaking_changes.py                  # against schema.graphql of the last release
    python scripts/check_breaking_changes.py --against FILE   # against an SDL file
    python scripts/check_breaking_changes.py --schema FILE    # the new side from a file, not the code

By default the previous schema is ``git show <ref>:schema.graphql``, where ``ref`` is the latest tag
reachable from HEAD if there is one, else ``origin/main`` if it exists, else ``HEAD``. The working
schema is the one the code builds (what ``purchasegraph schema`` prints).

Every change graphql-core finds is printed: breaking ones (removed fields, types, enum values and
arguments, new required arguments, changed types) and dangerous ones (added enum values, optional
arguments, changed defaults), which clients may need to handle. Exit 1 if any change is breaking,
0 otherwise, 2 if a schema could not be read.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from graphql import GraphQLError, GraphQLSchema, build_schema, find_breaking_changes, find_dangerous_changes

ROOT = Path(__file__).resolve().parent.parent
SCHEMA_FILE = "schema.graphql"

EXIT_BREAKING = 1
EXIT_UNREADABLE = 2


class SchemaUnavailable(Exception):
    """A schema to compare could not be read or parsed."""


def _git(*args: str) -> subprocess.CompletedProcess[str]:
    git = shutil.which("git")
    if git is None:
        raise SchemaUnavailable("git is not on PATH; pass --against FILE")
    return subprocess.run(  # noqa: S603 - git found on PATH, fixed subcommands, refs from git itself
        [git, *args], cwd=ROOT, capture_output=True, text=True, check=False
    )


def default_ref() -> str:
    """The latest tag reachable from HEAD, else origin/main if it exists, else HEAD."""
    tag = _git("describe", "--tags", "--abbrev=0")
    if tag.returncode == 0 and tag.stdout.strip():
        return tag.stdout.strip()
    if _git("rev-parse", "--verify", "--quiet", "origin/main^{commit}").returncode == 0:
        return "origin/main"
    return "HEAD"


def sdl_at(ref: str) -> str | None:
    """``schema.graphql`` as committed at ``ref``; None if it is not there (before it was added)."""
    if _git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}").returncode != 0:
        raise SchemaUnavailable(f"{ref!r} is not a commit here")
    shown = _git("show", f"{ref}:{SCHEMA_FILE}")
    return shown.stdout if shown.returncode == 0 else None


def working_sdl() -> str:
    from purchasegraph.schema import schema

    return schema.as_str()


def parse_sdl(sdl: str, origin: str) -> GraphQLSchema:
    try:
        return build_schema(sdl)
    except (GraphQLError, TypeError) as error:
        raise SchemaUnavailable(f"{origin} is not a valid schema: {error}") from error


def read_file(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise SchemaUnavailable(f"cannot read {path}: {error.strerror}") from error


def compare(old: GraphQLSchema, new: GraphQLSchema) -> tuple[list[str], list[str]]:
    """(breaking, dangerous) changes from ``old`` to ``new``, each as ``TYPE: description``."""
    breaking = [f"{c.type.name}: {c.description}" for c in find_breaking_changes(old, new)]
    dangerous = [f"{c.type.name}: {c.description}" for c in find_dangerous_changes(old, new)]
    return breaking, dangerous


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="check_breaking_changes.py",
        description="Report breaking and dangerous changes of the GraphQL schema; exit 1 on a breaking one.",
    )
    parser.add_argument(
        "--against",
        metavar="FILE",
        help=f"The previous schema as an SDL file, instead of {SCHEMA_FILE} at the latest tag / origin/main / HEAD.",
    )
    parser.add_argument(
        "--ref", help=f"Take the previous schema from {SCHEMA_FILE} at this git ref instead of the default one."
    )
    parser.add_argument(
        "--schema", metavar="FILE", help="The new schema as an SDL file, instead of the one the code builds."
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.against:
            old_origin = args.against
            old_sdl = read_file(args.against)
        else:
            ref = args.ref or default_ref()
            old_origin = f"{ref}:{SCHEMA_FILE}"
            committed = sdl_at(ref)
            if committed is None:
                print(f"no {SCHEMA_FILE} at {ref}: nothing to compare against", file=sys.stderr)
                return 0
            old_sdl = committed
        new_origin = args.schema or "the working schema"
        new_sdl = read_file(args.schema) if args.schema else working_sdl()
        old = parse_sdl(old_sdl, old_origin)
        new = parse_sdl(new_sdl, new_origin)
    except SchemaUnavailable as error:
        print(f"check_breaking_changes: {error}", file=sys.stderr)
        return EXIT_UNREADABLE

    breaking, dangerous = compare(old, new)
    print(f"{new_origin} against {old_origin}:")
    for change in breaking:
        print(f"  BREAKING  {change}")
    for change in dangerous:
        print(f"  DANGEROUS {change}")
    print(f"{len(breaking)} breaking, {len(dangerous)} dangerous")
    return EXIT_BREAKING if breaking else 0


if __name__ == "__main__":
    raise SystemExit(main())
