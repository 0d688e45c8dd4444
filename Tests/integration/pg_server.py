"""A private PostgreSQL cluster for the tests: initdb into a fresh temporary folder, listening only
on 127.0.0.1 on a free port (and on a Unix socket in that folder), stopped and removed afterwards.

PostgreSQL refuses to run as root, so as root the server runs as the system user `dossier-pg`
(created on first use). Any failure raises RuntimeError: a missing or broken PostgreSQL makes the
tests fail, never skip. Standard library only; the server's own initdb, pg_ctl and psql."""

from __future__ import annotations

import atexit
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import quote

SERVER_USER = "dossier-pg"
HOST = "127.0.0.1"
BIN_GLOB = "/usr/lib/postgresql/*/bin"


def find_bindir() -> Path:
    """The bin folder of the highest PostgreSQL version installed under /usr/lib/postgresql."""
    found = [p for p in Path("/usr/lib/postgresql").glob("*/bin")
             if all((p / tool).is_file() for tool in ("initdb", "pg_ctl", "postgres", "psql"))]
    if not found:
        raise RuntimeError(f"PostgreSQL server binaries (initdb, pg_ctl, postgres, psql) not found under "
                           f"{BIN_GLOB}: install the Debian package 'postgresql' (`make deps` does)")

    def version(p: Path) -> tuple:
        return tuple(int(x) if x.isdigit() else 0 for x in p.parent.name.split("."))
    return max(found, key=version)


def clean_env(locale: str = "C.UTF-8") -> dict:
    """The environment without PG* variables (no inherited host, user or password) and with
    English messages and UTF-8 client encoding."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update(LC_ALL=locale, PGCLIENTENCODING="UTF8")
    return env


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def sql_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class PrivateCluster:
    """One throw-away cluster. `start()` creates and starts it, `stop()` stops it and removes its
    folder (idempotent, also run at exit). The superuser is `postgres` with a random password
    (`superuser_password`); over the Unix socket every role is trusted, over TCP it needs its
    password (SCRAM)."""

    def __init__(self):
        self.bindir = find_bindir()
        self.host = HOST
        self.port: int | None = None
        self.dir: Path | None = None
        self.superuser_password = secrets.token_urlsafe(24)
        self.locale = "C.UTF-8" if self._has_c_utf8() else "C"
        self.env = clean_env(self.locale)
        self.user = SERVER_USER if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> "PrivateCluster":
        if self.dir is not None:
            raise RuntimeError("this cluster was already started")
        if os.geteuid() == 0:
            self._ensure_server_user()
        self.dir = Path(tempfile.mkdtemp(prefix="dossier-pg-"))
        atexit.register(self.stop)
        try:
            self._initdb()
            self.port = free_port()
            self._configure()
            proc = self._as_server_user(self.bindir / "pg_ctl", "-D", self.data, "-l", self.log,
                                        "-w", "-t", "30", "start")
            if proc.returncode != 0:
                raise RuntimeError(f"PostgreSQL did not start (pg_ctl exit {proc.returncode}): "
                                   f"{proc.stderr.strip()}\n--- server log (tail) ---\n{self.log_tail()}")
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self.dir is None:
            return
        # Also after a failed start: a postmaster that came up too late is stopped too.
        if (self.data / "postmaster.pid").exists():
            self._as_server_user(self.bindir / "pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop")
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir = None
        atexit.unregister(self.stop)

    def __enter__(self) -> "PrivateCluster":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def data(self) -> Path:
        return self.dir / "data"

    @property
    def log(self) -> Path:
        return self.dir / "server.log"

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError as e:
            return f"(no server log: {e})"

    def server_pid(self) -> int:
        """The postmaster's process id (first line of postmaster.pid)."""
        return int((self.data / "postmaster.pid").read_text().split("\n", 1)[0])

    # ------------------------------------------------------------------ SQL helpers

    def psql(self, sql: str, db: str = "postgres", user: str = "postgres") -> str:
        """Run `sql` (fed on stdin) as `user` over the Unix socket; returns stdout (unaligned,
        tuples only), raises RuntimeError with stderr on any error."""
        return self._psql(["-f", "-"], db, user, sql)

    def psql_file(self, path, db: str = "postgres", user: str = "postgres") -> str:
        return self._psql(["-f", str(path)], db, user, "")

    def create_role(self, name: str, password: str, login: bool = True) -> None:
        self.psql(f"CREATE ROLE {sql_identifier(name)} {'LOGIN' if login else 'NOLOGIN'} "
                  f"NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION PASSWORD {sql_literal(password)};")

    def create_database(self, name: str, owner: str | None = None) -> None:
        owner_clause = f" OWNER {sql_identifier(owner)}" if owner else ""
        self.psql(f"CREATE DATABASE {sql_identifier(name)}{owner_clause};")

    def url(self, user: str, password: str, db: str) -> str:
        return (f"postgres://{quote(user, safe='')}:{quote(password, safe='')}@{self.host}:{self.port}/"
                f"{quote(db, safe='')}?sslmode=disable")

    # ------------------------------------------------------------------ internals

    def _psql(self, args: list, db: str, user: str, stdin: str) -> str:
        proc = subprocess.run([self.bindir / "psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                               "-h", str(self.dir), "-p", str(self.port), "-U", user, "-d", db, *args],
                              input=stdin, capture_output=True, text=True,
                              encoding="utf-8", env=self.env, timeout=300)
        if proc.returncode != 0:
            raise RuntimeError(f"psql (db {db}, user {user}) failed with exit {proc.returncode}: "
                               f"{proc.stderr.strip()}")
        return proc.stdout

    def _as_server_user(self, *cmd) -> subprocess.CompletedProcess:
        """Run a server tool as the server's user, from inside the cluster folder (the caller's
        working directory may be closed to that user)."""
        prefix = ["runuser", "-u", self.user, "--"] if os.geteuid() == 0 else []
        return subprocess.run([*prefix, *map(str, cmd)], cwd=self.dir, stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, env=self.env, timeout=120)

    def _ensure_server_user(self) -> None:
        try:
            pwd.getpwnam(SERVER_USER)
            return
        except KeyError:
            pass
        proc = subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
                               SERVER_USER], capture_output=True, text=True)
        try:
            pwd.getpwnam(SERVER_USER)  # also fine when a parallel run created it first
        except KeyError:
            raise RuntimeError(f"cannot create the system user {SERVER_USER} to run PostgreSQL as: "
                               f"{proc.stderr.strip()}") from None

    def _has_c_utf8(self) -> bool:
        try:
            names = subprocess.run(["locale", "-a"], capture_output=True, text=True).stdout.split()
        except OSError:
            return False
        return any(n.lower() in ("c.utf8", "c.utf-8") for n in names)

    def _initdb(self) -> None:
        account = pwd.getpwnam(self.user)
        os.chown(self.dir, account.pw_uid, account.pw_gid)
        os.chmod(self.dir, 0o700)
        check = self._as_server_user("test", "-w", self.dir)
        if check.returncode != 0:
            raise RuntimeError(f"{self.user} cannot write to {self.dir}: set TMPDIR to a folder "
                               f"whose parents it may enter (such as /tmp)")
        pwfile = self.dir / "pwfile"
        pwfile.write_text(self.superuser_password + "\n")
        os.chown(pwfile, account.pw_uid, account.pw_gid)
        pwfile.chmod(0o600)
        proc = self._as_server_user(self.bindir / "initdb", "-D", self.data, "-U", "postgres",
                                    "--pwfile", pwfile, "--auth-local=trust", "--auth-host=scram-sha-256",
                                    "--encoding=UTF8", f"--locale={self.locale}")
        pwfile.unlink()
        if proc.returncode != 0:
            raise RuntimeError(f"initdb failed (exit {proc.returncode}): {proc.stderr.strip() or proc.stdout.strip()}")

    def _configure(self) -> None:
        # Later settings in postgresql.conf win over initdb's defaults above them.
        settings = {
            "listen_addresses": sql_literal(HOST),
            "port": str(self.port),
            "unix_socket_directories": sql_literal(str(self.dir)),
            "max_connections": "100",
            # Speed over durability: the cluster is thrown away after the tests.
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            # Same output on every machine, whatever its time zone.
            "timezone": sql_literal("UTC"),
            "log_timezone": sql_literal("UTC"),
        }
        with open(self.data / "postgresql.conf", "a", encoding="utf-8") as conf:
            conf.write("\n# dossier tests\n")
            conf.writelines(f"{k} = {v}\n" for k, v in settings.items())
