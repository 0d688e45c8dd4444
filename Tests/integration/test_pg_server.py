"""The PostgreSQL test harness itself (pg_server.py and the pg_* fixtures in conftest.py): the
reader reaches the private cluster over TCP with its password and may only read; the server runs
unprivileged; stopping it closes its port and removes its folder."""

from __future__ import annotations

import os
import pwd
import socket
import subprocess

from pg_server import PrivateCluster, clean_env


def reader_psql(db, sql: str, url: str | None = None) -> subprocess.CompletedProcess:
    """psql as a client would run it: the connection URL only (no PG* variables, never a prompt)."""
    return subprocess.run([db.cluster.bindir / "psql", "-X", "-w", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                           url or db.url, "-c", sql], stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, env=clean_env(), timeout=60)


def test_reader_reads_chinook_over_tcp(pg_chinook):
    assert "PGPASSWORD" not in clean_env()
    proc = reader_psql(pg_chinook, "SELECT inet_server_addr(), current_user, count(*) FROM customer")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "127.0.0.1|dossier_reader|59"


def test_wrong_password_is_refused(pg_chinook):
    wrong = pg_chinook.cluster.url(pg_chinook.user, "p@ss:w/rd%e", pg_chinook.database)
    proc = reader_psql(pg_chinook, "SELECT 1", url=wrong)
    assert proc.returncode != 0
    assert "password authentication failed" in proc.stderr


def test_reader_may_only_read(pg_chinook):
    for sql, message in [
        ("INSERT INTO customer (customer_id, first_name, last_name, email) VALUES (60, 'A', 'B', 'a@b.c')",
         "permission denied for table customer"),
        ("CREATE TABLE mine (x int)", "permission denied for schema public"),
        ("CREATE TEMPORARY TABLE mine (x int)", "permission denied to create temporary tables"),
    ]:
        proc = reader_psql(pg_chinook, sql)
        assert proc.returncode != 0 and message in proc.stderr, f"{sql}: {proc.stderr}"
    # CONNECT on its own databases only
    other = pg_chinook.cluster.url(pg_chinook.user, pg_chinook.password, "postgres")
    proc = reader_psql(pg_chinook, "SELECT 1", url=other)
    assert proc.returncode != 0 and "permission denied for database" in proc.stderr, proc.stderr


def test_reader_reads_the_types_table(pg_types):
    proc = reader_psql(pg_types, "SELECT id, email, c_numeric, c_timestamptz FROM everything ORDER BY id")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "1|typical@example.pl|-12.50|2026-03-01 11:00:00+00",
        "2|extremes@example.pl|1234567890123456789012345678901234567890|2026-07-01 07:30:00+00",
        "3|zeros@example.pl|0.00|1970-01-01 00:00:00+00",
        "4|special@example.pl|NaN|infinity",
        "5|nulls@example.pl||",
    ]


def test_server_runs_unprivileged(pg_cluster):
    owner = pwd.getpwuid(os.stat(f"/proc/{pg_cluster.server_pid()}").st_uid).pw_name
    expected = "dossier-pg" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name
    assert owner == expected
    assert pg_cluster.psql("SHOW listen_addresses").strip() == "127.0.0.1"


def test_stop_closes_the_port_and_removes_the_folder():
    cluster = PrivateCluster().start()
    folder, port = cluster.dir, cluster.port
    assert oct(folder.stat().st_mode & 0o777) == oct(0o700)
    socket.create_connection(("127.0.0.1", port), timeout=5).close()
    cluster.stop()
    assert not folder.exists()
    try:
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
        raise AssertionError(f"port {port} still accepts connections after stop()")
    except ConnectionRefusedError:
        pass
    cluster.stop()  # idempotent
