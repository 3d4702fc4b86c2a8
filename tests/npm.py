"""Node packages some tests need (the graphql-http audit, the client tests),
installed from their lockfile with `npm ci` when missing or stale, once across parallel sessions."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

NPM_CI_TIMEOUT = 300.0


def installed_as_locked(folder: Path) -> bool:
    """Every package in package-lock.json is in node_modules at the locked version."""
    lock = json.loads((folder / "package-lock.json").read_text(encoding="utf-8"))
    for where, entry in lock["packages"].items():
        if not where:
            continue  # "" is the project itself
        installed = folder / where / "package.json"
        if not installed.is_file():
            return False
        if json.loads(installed.read_text(encoding="utf-8")).get("version") != entry.get("version"):
            return False
    return True


def npm_ci(folder: Path, npm: str, *extra: str) -> Path:
    """``folder``'s node_modules as its lockfile says; installs under a file lock only if needed."""
    key = hashlib.sha256(str(folder.resolve()).encode()).hexdigest()[:16]
    lock_path = Path(tempfile.gettempdir()) / f"purchasegraph-npm-{key}.lock"
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # parallel sessions (two checkouts of CI) install once
        try:
            if not installed_as_locked(folder):
                completed = subprocess.run(  # noqa: S603 - fixed arguments, npm found on PATH
                    [npm, "ci", "--no-audit", "--no-fund", *extra],
                    cwd=folder,
                    capture_output=True,
                    text=True,
                    timeout=NPM_CI_TIMEOUT,
                    check=False,
                    env={**os.environ, "NO_UPDATE_NOTIFIER": "1"},
                )
                assert completed.returncode == 0, (
                    f"`npm ci` in {folder} failed ({completed.returncode}):\n{completed.stdout}\n{completed.stderr}"
                )
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return folder / "node_modules"


def node_for(folder: Path, needed_by: str) -> str:
    """The ``node`` binary, with ``folder``'s packages installed as locked; the test is skipped
    (saying what ``needed_by`` needs) on a machine without Node.js."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip(f"{needed_by} needs `node` and `npm` (Node.js) on PATH; they are not there")
    npm_ci(folder, npm)
    return node
