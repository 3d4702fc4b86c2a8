"""The embedded default: a real PostgreSQL 16 from the ``pgserver`` wheel, in a data folder.

It listens on a Unix socket inside the data folder, so two data folders never clash over a
port. Several processes on one folder share one server; the last handle to close stops it.
"""

from __future__ import annotations

import secrets
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

with warnings.catch_warnings():
    # pgserver asks platformdirs for a runtime folder at import and never uses it; containers
    # have no XDG_RUNTIME_DIR, and the warning would only confuse whoever reads the output.
    warnings.simplefilter("ignore")
    import pgserver

SECRET_FILE = "jwt-secret"  # noqa: S105 - the file name, not the secret
PGDATA = "pgdata"


@dataclass
class EmbeddedServer:
    data_dir: Path
    _handle: Any

    @property
    def database_url(self) -> str:
        return str(self._handle.get_uri())

    def stop(self) -> None:
        self._handle.cleanup()


def start_embedded_server(data_dir: Path) -> EmbeddedServer:
    """Start (or join) the server of ``data_dir``; blocking, about a second from an empty folder."""
    data_dir.mkdir(parents=True, exist_ok=True)
    handle = pgserver.get_server(data_dir / PGDATA, cleanup_mode="stop")
    return EmbeddedServer(data_dir=data_dir, _handle=handle)


def dev_secret(data_dir: Path) -> str:
    """The HS256 secret of this data folder, made on first use and kept so tokens outlive restarts."""
    path = data_dir / SECRET_FILE
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(48), encoding="utf-8")
    return path.read_text(encoding="utf-8").strip()
