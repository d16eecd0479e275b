"""A throwaway local PostgreSQL server for tests, benchmarks and demos.

Lives in closesync.testing (not under tests/) so the pytest fixtures (tests/fixtures_postgres.py) and the
benchmark (bench/bench_postgres.py) share one implementation. It uses Debian's server binaries in
/usr/lib/postgresql/<version>/bin (installed by scripts/install-test-deps.sh), runs `initdb`/`pg_ctl` as
the `postgres` OS user when we are root (PostgreSQL refuses to run as root), listens on 127.0.0.1 on a free
port with trust auth, and keeps everything in one temporary directory that `stop()` deletes.
Durability is switched off (fsync, synchronous_commit, full_page_writes): the data is disposable.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

import psycopg
from psycopg import sql

ENV_BIN = "CLOSESYNC_PG_BIN"
DEBIAN_ROOT = Path("/usr/lib/postgresql")


class PgServerError(RuntimeError):
    """The throwaway server could not be found or started (message says what to install or fix)."""


def find_pg_bin() -> Path | None:
    """Directory holding initdb/pg_ctl: $CLOSESYNC_PG_BIN, else the newest Debian version, else PATH."""
    env = os.environ.get(ENV_BIN)
    if env:
        return Path(env) if (Path(env) / "initdb").exists() else None
    if DEBIAN_ROOT.is_dir():
        versions = sorted(
            (p for p in DEBIAN_ROOT.iterdir() if (p / "bin" / "initdb").exists()),
            key=lambda p: [int(x) if x.isdigit() else 0 for x in p.name.split(".")],
        )
        if versions:
            return versions[-1] / "bin"
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def free_port() -> int:
    """A port nobody listens on right now (start() retries if another process grabs it first)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_reachable(url: str, timeout: float = 3.0) -> bool:
    """True if `url` accepts a connection (used to decide whether a given server can be used)."""
    try:
        with psycopg.connect(url, connect_timeout=max(1, int(timeout))) as conn:
            conn.execute("SELECT 1")
        return True
    except psycopg.Error:
        return False


class PgTestServer:
    """Start with `with PgTestServer() as srv:`; `srv.url` points at database `dbname` as user `postgres`."""

    def __init__(
        self,
        dbname: str = "closesync",
        *,
        bin_dir: Path | None = None,
        settings: dict[str, str] | None = None,
    ) -> None:
        self.dbname = dbname
        self.bin_dir = bin_dir or find_pg_bin()
        self.settings = {
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "max_connections": "100",
            "max_wal_size": "2GB",
            "listen_addresses": "127.0.0.1",
            **(settings or {}),
        }
        self.port: int | None = None
        self.root: Path | None = None
        self._run_as: list[str] = []

    # -- lifecycle -----------------------------------------------------------------------------------
    @property
    def data_dir(self) -> Path:
        assert self.root is not None
        return self.root / "data"

    @property
    def url(self) -> str:
        return self.url_for(self.dbname)

    def url_for(self, dbname: str) -> str:
        """A URL for another database on this server (e.g. `postgres` for admin statements)."""
        if self.port is None:
            raise PgServerError("server not started")
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def start(self) -> PgTestServer:
        """initdb + pg_ctl start + CREATE DATABASE; raises PgServerError with the server log on failure."""
        if self.bin_dir is None or not (self.bin_dir / "initdb").exists():
            raise PgServerError(
                "PostgreSQL server binaries not found (initdb/pg_ctl); install them with "
                "`bash scripts/install-test-deps.sh` (Debian package postgresql) or set "
                f"{ENV_BIN} or CLOSESYNC_TEST_PG_URL"
            )
        self._run_as = self._run_as_prefix()
        self.root = Path(tempfile.mkdtemp(prefix="closesync-pg-"))
        try:
            self._chown(self.root)
            self._run(
                [
                    str(self.bin_dir / "initdb"),
                    "-D",
                    str(self.data_dir),
                    "-U",
                    "postgres",
                    "-A",
                    "trust",
                    "-E",
                    "UTF8",
                    "--locale=C",
                    "--no-sync",
                ]
            )
            self._start_with_retries()
            with psycopg.connect(self.url_for("postgres"), autocommit=True) as conn:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.dbname)))
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Immediate shutdown (no checkpoint: the data is thrown away) and delete the directory."""
        if self.root is None:
            return
        if self.bin_dir is not None and (self.data_dir / "postmaster.pid").exists():
            with contextlib.suppress(subprocess.SubprocessError, OSError):
                self._run(
                    [str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-m", "immediate", "-w", "stop"],
                    timeout=60,
                )
        shutil.rmtree(self.root, ignore_errors=True)
        self.root = None
        self.port = None

    def __enter__(self) -> PgTestServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- helpers -------------------------------------------------------------------------------------
    def _start_with_retries(self, attempts: int = 4) -> None:
        log = self.root / "server.log"  # type: ignore[operator]
        last = ""
        for _ in range(attempts):
            self.port = free_port()
            opts = [f"-p {self.port}", f"-k {self.root}"] + [f"-c {k}={v}" for k, v in self.settings.items()]
            try:
                self._run(
                    [
                        str(self.bin_dir / "pg_ctl"),
                        "-D",
                        str(self.data_dir),
                        "-l",
                        str(log),  # type: ignore[operator]
                        "-o",
                        " ".join(opts),
                        "-w",
                        "-t",
                        "60",
                        "start",
                    ],
                    timeout=90,
                )
            except PgServerError as e:
                last = str(e) + "\n" + (log.read_text(errors="replace")[-2000:] if log.exists() else "")
                time.sleep(0.2)
                continue
            if server_reachable(self.url_for("postgres")):
                return
            last = log.read_text(errors="replace")[-2000:] if log.exists() else "server not reachable"
        raise PgServerError(f"could not start PostgreSQL from {self.bin_dir}:\n{last}")

    @staticmethod
    def _run_as_prefix() -> list[str]:
        """PostgreSQL refuses root: as root run its tools as the `postgres` user, else as ourselves."""
        if os.geteuid() != 0:
            return []
        try:
            pwd.getpwnam("postgres")
        except KeyError as e:
            raise PgServerError(
                "running as root but there is no `postgres` OS user (install postgresql)"
            ) from e
        if shutil.which("runuser"):
            return ["runuser", "-u", "postgres", "--"]
        return ["sudo", "-u", "postgres", "--"]

    def _chown(self, path: Path) -> None:
        if self._run_as:
            pw = pwd.getpwnam("postgres")
            os.chown(path, pw.pw_uid, pw.pw_gid)
            path.chmod(0o700)

    def _run(self, cmd: list[str], timeout: float = 120) -> None:
        # cwd inside our dir: the postgres user may not be allowed to read the caller's cwd.
        proc = subprocess.run(
            self._run_as + cmd,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=str(self.root) if self.root else "/",
            check=False,
        )
        if proc.returncode != 0:
            raise PgServerError(
                f"{Path(cmd[0]).name} failed ({proc.returncode}): "
                f"{(proc.stderr or proc.stdout).strip()[-2000:]}"
            )
