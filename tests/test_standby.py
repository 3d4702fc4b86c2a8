"""The hot standby the tests and developers read from: it streams what the primary commits, its
replay can be held back and let go, it survives a crash, and the gateway's role reads the same
world on it under row-level security, while anything that writes is refused there."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from purchasegraph.cli import EXIT_USAGE, main
from purchasegraph.db.lending import SET_TENANT
from purchasegraph.db.pool import GATEWAY_ROLE, create_pool
from purchasegraph.db.standby import HotStandby, Standby, is_standby_of, start_standby
from purchasegraph.gateway.authentication import SIGN_IN_ANONYMOUS

# How long a committed row may take to show on the standby; it takes milliseconds here, and the
# bound only keeps a broken stream from hanging the suite.
VISIBLE_WITHIN = 10.0
CURRENT_LSN = "SELECT pg_current_wal_lsn()::text"


def _in_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


async def _wait_until(conn: asyncpg.Connection, sql: str, *args: object, within: float = VISIBLE_WITHIN) -> None:
    started = time.monotonic()
    while not await conn.fetchval(sql, *args):
        assert time.monotonic() - started < within, f"{sql} still false after {within} s"
        await asyncio.sleep(0.02)


class Probe:
    """A scratch database on the primary with one table, and its URL on the standby: rows written
    here touch none of the session's world."""

    def __init__(self, primary: asyncpg.Connection, replica_url: str) -> None:
        self.primary = primary
        self.replica_url = replica_url

    async def write(self) -> tuple[str, str]:
        """A new committed row's token, and the primary's WAL position right after its commit."""
        token = secrets.token_hex(8)
        await self.primary.execute("INSERT INTO probe (token) VALUES ($1)", token)
        return token, await self.primary.fetchval(CURRENT_LSN)

    async def on_replica(self, token: str) -> bool:
        """Whether the standby shows the row, on a connection of its own: one opened before a
        kill would be gone."""
        replica = await asyncpg.connect(self.replica_url)
        try:
            return bool(await replica.fetchval("SELECT EXISTS (SELECT FROM probe WHERE token = $1)", token))
        finally:
            await replica.close()


@pytest.fixture(scope="module")
async def probe(database_url: str, standby: HotStandby) -> AsyncIterator[Probe]:
    name = f"standby_probe_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(database_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    primary = await asyncpg.connect(_in_database(database_url, name))
    await primary.execute("CREATE TABLE probe (token text PRIMARY KEY)")
    await standby.wait_until_replayed(await primary.fetchval(CURRENT_LSN))
    yield Probe(primary, _in_database(standby.database_url, name))
    await primary.close()
    await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    await admin.close()


async def test_the_standby_is_a_read_only_copy_of_the_primary(database_url: str, standby: HotStandby) -> None:
    assert await is_standby_of(standby.database_url, database_url)
    assert not await is_standby_of(database_url, database_url)  # the primary is in no recovery


async def test_a_committed_row_shows_on_the_standby_within_the_bound(probe: Probe, standby: HotStandby) -> None:
    token, lsn = await probe.write()
    await standby.wait_until_replayed(lsn, within=VISIBLE_WITHIN)
    assert await probe.on_replica(token)


async def test_a_paused_replay_holds_rows_back_until_resumed(probe: Probe, standby: HotStandby) -> None:
    replica = await asyncpg.connect(probe.replica_url)
    await standby.pause_replay()
    try:
        await _wait_until(replica, "SELECT pg_get_wal_replay_pause_state() = 'paused'")
        token, lsn = await probe.write()
        # The WAL reaches the standby; only its replay waits.
        await _wait_until(replica, "SELECT pg_last_wal_receive_lsn() >= $1::text::pg_lsn", lsn)
        assert await replica.fetchval("SELECT pg_last_wal_replay_lsn() < $1::text::pg_lsn", lsn)
        assert not await probe.on_replica(token)
    finally:
        await standby.resume_replay()
        await replica.close()
    await standby.wait_until_replayed(lsn, within=VISIBLE_WITHIN)
    assert await probe.on_replica(token)


@pytest.fixture
def started_here(standby: HotStandby) -> Standby:
    """The session's standby when the tests started it, and may stop, kill and start it again."""
    if not isinstance(standby, Standby):
        pytest.skip("the standby named by PURCHASEGRAPH_TEST_REPLICA_URL is not the tests' to stop or restart")
    return standby


async def test_a_killed_standby_started_again_catches_up(probe: Probe, started_here: Standby) -> None:
    standby = started_here
    await asyncio.to_thread(standby.kill)
    assert not standby.is_running()
    # Committed while the standby is down, in a WAL segment it never saw: fetched once it is back.
    await probe.primary.execute("SELECT pg_switch_wal()")
    token, lsn = await probe.write()
    await asyncio.to_thread(standby.start)
    await standby.wait_until_accepting()
    await standby.wait_until_replayed(lsn, within=VISIBLE_WITHIN)
    assert await probe.on_replica(token)


async def test_starting_it_again_in_its_folder_reuses_the_standby(database_url: str, started_here: Standby) -> None:
    standby = started_here
    marker = standby.data_dir / "kept-by-reuse"
    marker.touch()
    try:
        again = await asyncio.to_thread(start_standby, database_url, standby.data_dir)
        assert marker.exists()  # no new base backup replaced the folder
        assert again.database_url == standby.database_url
    finally:
        marker.unlink()


async def test_a_folder_holding_a_standby_of_another_cluster_gets_a_new_base_backup(
    database_url: str, tmp_path: Path
) -> None:
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    (folder / "standby.signal").touch()
    (folder / "from-the-other-cluster").touch()
    replaced = await asyncio.to_thread(start_standby, database_url, folder)
    try:
        assert not (folder / "from-the-other-cluster").exists()
        assert await is_standby_of(replaced.database_url, database_url)
    finally:
        await asyncio.to_thread(replaced.stop)


def test_a_folder_holding_anything_else_is_not_replaced(database_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "not-a-standby"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(ValueError, match="not a standby"):
        start_standby(database_url, folder)
    assert (folder / "notes.txt").read_text(encoding="utf-8") == "mine"


async def test_the_gateway_role_reads_its_tenant_on_the_standby(pool: asyncpg.Pool, standby: HotStandby) -> None:
    """The standby has the primary's roles and policies: the gateway's pool connects to it as is,
    sees nothing before a tenant is named and exactly that tenant's rows after."""
    tenant_id, users = await pool.fetchrow(
        "SELECT tenant_id, count(*) FROM users GROUP BY tenant_id ORDER BY count(*) DESC LIMIT 1"
    )
    gateway = await create_pool(standby.database_url, min_size=1, max_size=1, role=GATEWAY_ROLE, statement_timeout=5)
    try:
        async with gateway.acquire() as conn:
            assert await conn.fetchval("SELECT current_user") == GATEWAY_ROLE
            assert await conn.fetchval("SELECT count(*) FROM users") == 0
            await conn.execute(SET_TENANT, str(tenant_id))
            assert await conn.fetchval("SELECT count(*) FROM users") == users
            assert await conn.fetchval("SELECT count(DISTINCT tenant_id) FROM users") == 1
    finally:
        await gateway.close()


@pytest.mark.parametrize("rate", [1.0, 0.0])
async def test_the_sign_in_statement_writes_so_the_standby_refuses_it(standby: HotStandby, rate: float) -> None:
    """A request's opening statement takes its cost from the throttle bucket, a write (even with
    throttling off, rate 0): it belongs on the primary, whichever server the request reads from."""
    gateway = await create_pool(standby.database_url, min_size=1, max_size=1, role=GATEWAY_ROLE)
    try:
        async with gateway.acquire() as conn:
            with pytest.raises(asyncpg.ReadOnlySQLTransactionError):
                await conn.fetchrow(SIGN_IN_ANONYMOUS, "", "anonymous:standby-test", 100.0, 1.0, rate)
    finally:
        await gateway.close()


def test_the_cli_runs_a_standby_of_the_seeded_embedded_server_until_interrupted(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    command = [sys.executable, "-m", "purchasegraph.cli", "standby", "--data-dir", str(tmp_path / "data")]
    errors = tmp_path / "stderr"
    with (
        errors.open("w") as stderr,
        subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=stderr, text=True) as cli,  # noqa: S603
    ):
        try:
            assert cli.stdout is not None
            url = cli.stdout.readline().strip()  # the first line, once the standby accepts connections
            assert url.startswith("postgresql://"), errors.read_text(encoding="utf-8")
            tenants, in_recovery = asyncio.run(_tenants_and_recovery(url))
            assert in_recovery
            assert tenants > 0  # the demo world the primary was seeded with
        finally:
            cli.send_signal(signal.SIGINT)
            assert cli.wait(timeout=60) == 0, errors.read_text(encoding="utf-8")
    # Stopped with the command: a running server keeps its pid file in its folder.
    assert not (tmp_path / "data" / "standby" / "postmaster.pid").exists()


async def _tenants_and_recovery(url: str) -> tuple[int, bool]:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchval("SELECT count(*) FROM tenants"), await conn.fetchval("SELECT pg_is_in_recovery()")
    finally:
        await conn.close()


def test_the_cli_refuses_a_standby_without_the_embedded_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody@/nowhere")
    assert main(["standby"]) == EXIT_USAGE
