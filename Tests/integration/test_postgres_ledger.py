"""What only a PostgreSQL ledger has (test_ledger.py and test_run_due.py run the ledger's whole
behaviour on both backends): migrations applied once by processes starting together, the
database's own refusal of a second copy 1, leases, and connection errors without the password."""
import subprocess
import threading
import time

import pytest

from conftest import assert_one_line_error
from ledger_helpers import LEDGER_URL_VARIABLE, Ledger, make_samples_copy

ZOFIA = "zofia.wisniewska@example.pl"


@pytest.fixture
def pg_ledger(dossier, pg_ledger_database, tmp_path) -> Ledger:
    return Ledger(dossier, make_samples_copy(tmp_path / "samples", backend="postgres"), "postgres", pg_ledger_database())


def test_processes_starting_together_apply_each_migration_once(pg_ledger):
    results = []

    def run():
        results.append(pg_ledger.request("list", "--json"))
    threads = [threading.Thread(target=run) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.returncode for r in results] == [0] * 6, [r.stderr for r in results]
    assert pg_ledger.sql("SELECT version, name FROM dossier_migrations ORDER BY version;").splitlines() == [
        "1|requests, identifiers, deliveries, history, claims (leases), audit",
        "2|review before release",
        "3|archives that expire",
        "4|the identifiers a delivery's resolution found",
        "5|fields withheld at review",
        "6|copies split into parts",
        "7|copies sent to other controllers",
        "8|a request's history found by its id"]


def test_the_database_refuses_a_second_copy_1(pg_ledger):
    rid, _ = pg_ledger.open([("email", ZOFIA)], "2026-02-02")
    pg_ledger.verify(rid, "2026-02-03")
    pg_ledger.fulfil(rid, "2026-02-04")
    # not the code: the table itself refuses it, whoever writes
    with pytest.raises(RuntimeError, match="deliveries_pkey"):
        pg_ledger.sql(f"INSERT INTO deliveries SELECT request_id, copy, at, fee, currency, sha256, size, format, path, "
                      f"fingerprint FROM deliveries WHERE request_id = '{rid}';")
    assert pg_ledger.show(rid)["deliveries"][0]["copy"] == 1


def test_a_lease_blocks_until_it_expires_then_is_taken_over(pg_ledger):
    rid, _ = pg_ledger.open([("email", ZOFIA)], "2026-02-02")
    pg_ledger.verify(rid, "2026-02-03")
    # a worker elsewhere holds the request for a while
    pg_ledger.sql(f"INSERT INTO claims VALUES ('{rid}', 'other', 'node-2:77', now(), now() + interval '1 hour');")
    proc = pg_ledger.request("fulfil", rid, "--today", "2026-02-04")
    assert_one_line_error(proc, 75, rid, "node-2:77", "lease")
    # its lease runs out (the worker died): the next claimant takes over, and says so in the audit trail
    pg_ledger.sql(f"UPDATE claims SET expires_at = now() - interval '1 second' WHERE request_id = '{rid}';")
    pg_ledger.fulfil(rid, "2026-02-04")
    assert pg_ledger.sql(f"SELECT action FROM audit WHERE request_id = '{rid}' ORDER BY seq;").split() == [
        "opened", "verified", "claim_recovered", "delivered"]
    assert pg_ledger.sql("SELECT count(*) FROM claims;").strip() == "0"


@pytest.mark.parametrize("case", ["unset", "wrong_password", "nothing_listening", "never_answers"])
def test_ledger_connection_errors_are_one_sentence_without_the_password(pg_ledger, case):
    good = pg_ledger.pg
    env = pg_ledger.env()
    if case == "unset":
        env.pop(LEDGER_URL_VARIABLE)
    elif case == "wrong_password":
        env[LEDGER_URL_VARIABLE] = good.url.replace("ledger:", "ledger:NOT", 1)
    elif case == "nothing_listening":
        import socket
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        env[LEDGER_URL_VARIABLE] = good.url.replace(f":{good.port}/", f":{port}/")
    else:
        import socket
        silent = socket.socket()      # accepts (the kernel's backlog) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        env[LEDGER_URL_VARIABLE] = good.url.replace(f":{good.port}/", f":{silent.getsockname()[1]}/") + \
            ("&" if "?" in good.url else "?") + "connect_timeout=2"
    started = time.monotonic()
    proc = subprocess.run(pg_ledger.argv("request", "list", ledger=False), cwd=pg_ledger.root, capture_output=True,
                          text=True, env=env, timeout=120)
    if case == "never_answers":
        silent.close()
        assert time.monotonic() - started < 8
    code, words = {"unset": (64, [LEDGER_URL_VARIABLE, "not set"]),
                   "wrong_password": (73, ["ledger", "dossier_ledger", "28P01"]),
                   "nothing_listening": (73, ["ledger", "connection refused"]),
                   "never_answers": (73, ["ledger", "no answer in time"])}[case]
    line = assert_one_line_error(proc, code, *words)
    assert "pass/w@rd" not in line and "pass%2Fw%40rd" not in line


def test_a_newer_schema_is_refused(pg_ledger):
    assert pg_ledger.request("list").returncode == 0
    pg_ledger.sql("INSERT INTO dossier_migrations (version, name) VALUES (99, 'from a later Dossier');")
    proc = pg_ledger.request("list")
    assert_one_line_error(proc, 73, "version 99", "update Dossier")
