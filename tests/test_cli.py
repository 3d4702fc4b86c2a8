"""The command line: every command explains itself, refuses bad input with a hint and a distinct
exit code, and `serve --workers 2` really serves from two processes."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from purchasegraph.cli import build_parser, main
from tests.settings import gateway_settings
from tests.test_http import serving

COMMANDS = ["serve", "migrate", "seed", "sweep", "token", "demo-tokens", "schema", "trusted-documents"]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_and_exits_0(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    assert exit_.value.code == 0
    assert "usage: purchasegraph" in capsys.readouterr().out


def test_the_top_level_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert all(command in out for command in COMMANDS)


def test_an_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["frobnicate"])
    assert exit_.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_serve_takes_host_port_workers_production_and_data_dir() -> None:
    args = build_parser().parse_args(
        ["serve", "--host", "192.0.2.1", "--port", "9000", "--workers", "2", "--production", "--data-dir", "/x"]
    )
    assert (args.host, args.port, args.workers, args.production, args.data_dir) == ("192.0.2.1", 9000, 2, True, "/x")


def test_serve_refuses_zero_workers_with_a_hint(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--workers", "0"]) == 2
    assert "--workers must be 1 or more" in capsys.readouterr().err


def test_a_token_for_nobody_says_where_to_look(
    database_url: str, pool: object, capsys: pytest.CaptureFixture[str]
) -> None:
    os.environ["DATABASE_URL"] = database_url
    try:
        assert main(["token", "nobody@contoso.example"]) == 3
    finally:
        del os.environ["DATABASE_URL"]
    assert "purchasegraph demo-tokens" in capsys.readouterr().err


URL = "http://127.0.0.1:8000/graphql"
# Three base64url parts: any JWT, whoever signed it.
JWT = re.compile(r"eyJ[\w-]+\.[\w-]+\.[\w-]+")


async def banner(database_url: str, capsys: pytest.CaptureFixture[str], **changes: object) -> str:
    settings = gateway_settings(database_url, announce_url=URL, **changes)
    capsys.readouterr()
    async with serving(settings):
        pass
    return capsys.readouterr().err


async def test_the_serve_banner_shows_where_to_go_and_how_to_get_a_token_but_no_token(
    database_url: str, pool: object, capsys: pytest.CaptureFixture[str]
) -> None:
    printed = await banner(database_url, capsys)
    assert f"playground: {URL}" in printed
    assert "demo page:  http://127.0.0.1:8000/ " in printed
    assert "purchasegraph token alex.admin@contoso.example" in printed
    assert "purchasegraph demo-tokens" in printed
    assert not JWT.search(printed)
    assert len(printed.splitlines()) <= 5


async def test_the_production_banner_shows_no_demo_page_and_no_token_hint(
    database_url: str, pool: object, capsys: pytest.CaptureFixture[str]
) -> None:
    printed = await banner(database_url, capsys, production=True)
    assert f"endpoint:   {URL}" in printed
    assert "playground" not in printed  # production serves no GraphiQL
    assert "demo" not in printed
    assert "purchasegraph token" not in printed


def test_serve_with_two_workers_answers_from_both(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    server = subprocess.Popen(  # noqa: S603
        [
            sys.executable,
            "-m",
            "purchasegraph.cli",
            "serve",
            "--workers",
            "2",
            "--port",
            str(port),
            "--data-dir",
            str(tmp_path / "data"),
            "--log-level",
            "warning",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "two workers did not come up"
            assert server.poll() is None, "serve --workers 2 exited"
            time.sleep(0.2)
        for _ in range(20):
            response = httpx.post(f"http://127.0.0.1:{port}/graphql", json={"query": "{ products { productId } }"})
            assert response.status_code == 200
        children = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
        commands = [Path(f"/proc/{c}/cmdline").read_bytes() for c in children]
        assert sum(b"multiprocessing" in c or b"purchasegraph" in c for c in commands) >= 2, commands
    finally:
        server.terminate()
        server.wait(timeout=60)
