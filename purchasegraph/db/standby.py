"""A streaming hot standby of the embedded primary, for development and tests of read replicas.

It is made with the binaries the ``pgserver`` wheel ships beside ``postgres``, so it needs
nothing a fresh machine lacks: a base backup over the primary's Unix socket that writes the
standby's connection settings (``pg_basebackup -R -X stream``), then ``pg_ctl start`` on a socket
of its own. Physical replication copies the roles, so the standby's URL is the primary's with
the other socket: the gateway's role and row-level security work there unchanged, read-only.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import asyncpg

from purchasegraph.db.embedded import EmbeddedServer

with warnings.catch_warnings():
    # pgserver asks platformdirs for a runtime folder at import; see purchasegraph.db.embedded.
    warnings.simplefilter("ignore")
    from pgserver import PostgresServer
    from pgserver._commands import POSTGRES_BIN_PATH
    from pgserver.utils import ensure_prefix_permissions, ensure_user_exists, find_suitable_socket_dir

# Run as root, pgserver runs PostgreSQL as this system user; the standby's files must be its too.
SYSTEM_USER = "pgserver"
STANDBY_SIGNAL = "standby.signal"
LOG_FILE = "log"
# What a base backup copies from the primary's folder that belongs to the primary's running server
# alone: with its socket's lock file and its pid file in place the standby refuses to start, and
# pgserver's list of the processes holding the primary, like the primary's log, is not the standby's.
PRIMARY_RUNTIME_FILES = (".s.PGSQL.5432.lock", "postmaster.pid", ".handle_pids.json", LOG_FILE)
START_TIMEOUT = 60.0
POLL_SECONDS = 0.05


def _system_user() -> str | None:
    """The user PostgreSQL runs as: ours, unless we are root, where PostgreSQL will not run."""
    if os.geteuid() != 0:
        return None
    ensure_user_exists(SYSTEM_USER)
    return SYSTEM_USER


def _run_binary(name: str, args: list[str], user: str | None, timeout: float = START_TIMEOUT) -> str:
    """Run one of the wheel's binaries as PostgreSQL's user; its output, or an error saying why not."""
    completed = subprocess.run(  # noqa: S603 - the wheel's own binary, arguments built here
        [str(POSTGRES_BIN_PATH / name), *args],
        user=user,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"{name} {' '.join(args)} failed ({completed.returncode}): {completed.stderr.strip()}")
    return completed.stdout


def _system_identifier(pgdata: Path, user: str | None) -> str | None:
    """The cluster's identity, which a base backup keeps: a standby shares its primary's."""
    if not (pgdata / "global" / "pg_control").exists():
        return None
    for line in _run_binary("pg_controldata", ["-D", str(pgdata)], user).splitlines():
        if line.startswith("Database system identifier:"):
            return line.split(":", 1)[1].strip()
    return None


def _with_host(url: str, host: Path) -> str:
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    query["host"] = [str(host)]
    return urlunsplit(parts._replace(query=urlencode(query, doseq=True, safe="/")))


def _socket_dir_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["host"][0]


async def _wait_for(check: asyncpg.Connection, sql: str, *args: object, within: float, what: str) -> float:
    started = time.monotonic()
    while time.monotonic() - started < within:
        if await check.fetchval(sql, *args):
            return time.monotonic() - started
        await asyncio.sleep(POLL_SECONDS)
    raise TimeoutError(f"the standby did not {what} within {within} s")


@dataclass
class HotStandby:
    """A hot standby known by its URL: what a test or the app can do to one it did not start."""

    database_url: str

    async def pause_replay(self) -> None:
        await self._execute("SELECT pg_wal_replay_pause()")

    async def resume_replay(self) -> None:
        await self._execute("SELECT pg_wal_replay_resume()")

    async def wait_until_accepting(self, within: float = START_TIMEOUT) -> float:
        """Seconds until a connection to the standby succeeds (the error itself after ``within``)."""
        started = time.monotonic()
        while True:
            try:
                conn = await asyncpg.connect(self.database_url, timeout=within)
            except (OSError, asyncpg.PostgresError):
                if time.monotonic() - started > within:
                    raise
                await asyncio.sleep(POLL_SECONDS)
                continue
            await conn.close()
            return time.monotonic() - started

    async def wait_until_replayed(self, lsn: str, within: float = 10.0) -> float:
        """Seconds until the standby has replayed the primary's WAL up to ``lsn``."""
        conn = await asyncpg.connect(self.database_url)
        try:
            sql = "SELECT pg_last_wal_replay_lsn() >= $1::text::pg_lsn"
            return await _wait_for(conn, sql, lsn, within=within, what=f"replay up to {lsn}")
        finally:
            await conn.close()

    async def _execute(self, sql: str) -> None:
        conn = await asyncpg.connect(self.database_url)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()


@dataclass
class Standby(HotStandby):
    """A hot standby in ``data_dir`` whose server is ours to start, stop and kill."""

    data_dir: Path
    system_user: str | None

    def is_running(self) -> bool:
        """Whether a server runs in ``data_dir`` (``pg_ctl status``; it answers 3 for none, 4 for no folder)."""
        status = subprocess.run(  # noqa: S603 - the wheel's own binary
            [str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(self.data_dir), "status"],
            user=self.system_user,
            capture_output=True,
            check=False,
        )
        return status.returncode == 0

    def start(self) -> None:
        """Start the standby's server (after a stop or a kill it catches up from where it was);
        returns once it accepts read-only connections."""
        if self.is_running():
            return
        options = f"-k {_socket_dir_of(self.database_url)} -h ''"
        log = str(self.data_dir / LOG_FILE)
        _run_binary("pg_ctl", ["-D", str(self.data_dir), "-w", "-o", options, "-l", log, "start"], self.system_user)

    def stop(self) -> None:
        """Stop it cleanly and fast: sessions are cut, replay state is written."""
        if self.is_running():
            _run_binary("pg_ctl", ["-D", str(self.data_dir), "-w", "-m", "fast", "stop"], self.system_user)

    def kill(self) -> None:
        """Stop it as a crash would: no shutdown checkpoint, recovery on the next start."""
        if self.is_running():
            _run_binary("pg_ctl", ["-D", str(self.data_dir), "-w", "-m", "immediate", "stop"], self.system_user)


def _prepare_empty_dir(data_dir: Path, user: str | None) -> None:
    """An empty folder PostgreSQL's user owns, mode 700 as PostgreSQL requires of a data folder."""
    if data_dir.exists():
        shutil.rmtree(data_dir)
    data_dir.mkdir(parents=True, mode=0o700)
    data_dir.chmod(0o700)
    if user is not None:
        ensure_prefix_permissions(data_dir)
        shutil.chown(data_dir, user, user)


def _base_backup(primary_url: str, data_dir: Path, user: str | None) -> None:
    _prepare_empty_dir(data_dir, user)
    # A fast checkpoint to start from: the default spread one waits out the checkpoint target,
    # half a minute after the tests' seed, for nothing a development copy needs.
    socket = _socket_dir_of(primary_url)
    args = ["-D", str(data_dir), "-h", socket, "-U", "postgres", "-R", "-X", "stream", "-c", "fast"]
    _run_binary("pg_basebackup", args, user)
    for name in PRIMARY_RUNTIME_FILES:
        (data_dir / name).unlink(missing_ok=True)


def _primary_system_identifier(primary_url: str, user: str | None) -> str:
    sql = "SELECT system_identifier FROM pg_control_system()"
    return _run_binary("psql", ["-h", _socket_dir_of(primary_url), "-U", "postgres", "-Atc", sql], user).strip()


def _holds_standby_of(data_dir: Path, primary_url: str, user: str | None) -> bool:
    if not (data_dir / STANDBY_SIGNAL).exists():
        return False
    return _system_identifier(data_dir, user) == _primary_system_identifier(primary_url, user)


def _refuse_foreign_folder(data_dir: Path) -> None:
    """Only an empty folder or a standby (of another primary) is replaced by a fresh base backup:
    a primary's data, or anything else, is never deleted to make room."""
    if any(data_dir.iterdir()) and not (data_dir / STANDBY_SIGNAL).exists():
        raise ValueError(f"{data_dir} holds files that are not a standby's; not replacing them")


def start_standby(primary: EmbeddedServer | str, data_dir: Path) -> Standby:
    """Start (or reuse) the hot standby of ``primary`` (the embedded server, or the URL of a server
    on a local Unix socket) in ``data_dir``, and wait until it accepts read-only connections.
    A folder that already holds a standby of this primary is started as it is and catches up;
    a standby of another primary there is replaced by a new base backup."""
    primary_url = primary if isinstance(primary, str) else primary.database_url
    user = _system_user()
    data_dir = data_dir.resolve()
    if not data_dir.exists():
        _base_backup(primary_url, data_dir, user)
    elif not _holds_standby_of(data_dir, primary_url, user):
        _refuse_foreign_folder(data_dir)
        Standby(primary_url, data_dir, user).stop()
        _base_backup(primary_url, data_dir, user)
    socket_dir = find_suitable_socket_dir(data_dir, PostgresServer.runtime_path)
    if user is not None and socket_dir != data_dir:
        ensure_prefix_permissions(socket_dir)
        socket_dir.chmod(0o777)
    standby = Standby(_with_host(primary_url, socket_dir), data_dir, user)
    standby.start()
    return standby


async def is_standby_of(replica_url: str, primary_url: str) -> bool:
    """Whether ``replica_url`` names a server in recovery from the cluster ``primary_url`` names."""
    sql = "SELECT system_identifier, pg_is_in_recovery() FROM pg_control_system()"
    replica, primary = await asyncpg.connect(replica_url), await asyncpg.connect(primary_url)
    try:
        (replica_id, in_recovery), (primary_id, _) = await replica.fetchrow(sql), await primary.fetchrow(sql)
    finally:
        await replica.close()
        await primary.close()
    return bool(in_recovery) and replica_id == primary_id
