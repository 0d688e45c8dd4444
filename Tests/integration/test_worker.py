"""`dossier worker`: many processes claiming due requests from one ledger, each request fulfilled
exactly once whatever is killed. Run on the PostgreSQL ledger (the shape it is built for: workers on
several machines) and, for --once, on SQLite too. Bounded: at most 36 requests, every run on
127.0.0.1, every wait capped."""
import signal
import subprocess
import time

import pytest

from ledger_helpers import TEST_LEASE_SECONDS, Ledger, make_samples_copy, samples_ledger
from test_run_due import emails


def opened_and_verified(ledger: Ledger, n: int) -> list[str]:
    """n requests of n different people, verified, received on consecutive days (so deadlines differ)."""
    ids = []
    for i, email in enumerate(emails(n)):
        rid, _ = ledger.open([("email", email)], f"2026-10-{1 + i % 28:02d}", today="2026-12-01")
        ledger.verify(rid, "2026-12-01")
        ids.append(rid)
    return ids


@pytest.fixture(params=["sqlite", "postgres"])
def ledger(request, dossier, tmp_path) -> Ledger:
    return samples_ledger(request, dossier, tmp_path / "samples")


@pytest.fixture
def pg_ledger(dossier, pg_ledger_database, tmp_path) -> Ledger:
    return Ledger(dossier, make_samples_copy(tmp_path / "samples", backend="postgres"), "postgres", pg_ledger_database())


def delivered(stdout: str) -> list[str]:
    return [line.split()[1] for line in stdout.splitlines() if line.startswith("delivered: ")]


def test_once_drains_the_queue_earliest_deadline_first(ledger):
    ids = opened_and_verified(ledger, 6)
    unverified, _ = ledger.open([("email", emails(7)[6])], "2026-10-01", today="2026-12-01")
    proc = ledger.run("worker", "--once", "--jobs", "1", "--today", "2026-12-01", timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert delivered(proc.stdout) == ids          # received one day apart: deadlines in that order
    assert "worker: 6 delivered, 0 skipped, 0 failed" in proc.stdout
    ledger.check_each_delivered_once(ids)
    assert ledger.show(unverified)["deliveries"] == []
    again = ledger.run("worker", "--once", "--today", "2026-12-01")
    assert again.returncode == 0 and "worker: 0 delivered, 0 skipped, 0 failed" in again.stdout, again.stdout


def start(ledger: Ledger, log, jobs="2") -> subprocess.Popen:
    return subprocess.Popen(ledger.argv("worker", "--jobs", jobs, "--idle-max", "0.2", "--today", "2026-12-01"),
                            cwd=ledger.root, stdout=log, stderr=subprocess.STDOUT, env=ledger.env())


def wait_until(predicate, limit: float, what: str) -> None:
    deadline = time.monotonic() + limit
    while not predicate():
        assert time.monotonic() < deadline, f"not within {limit:.0f} s: {what}"
        time.sleep(0.1)


def delivered_count(ledger: Ledger) -> int:
    return int(ledger.sql("SELECT count(*) FROM deliveries;").strip())


def kill_while_holding_a_claim(ledger: Ledger, worker: subprocess.Popen, limit: float = 60) -> None:
    """SIGKILL `worker` at a moment it holds a claim: frozen (SIGSTOP) and checked, else let go and
    tried again, so that the kill never falls between two claims."""
    deadline = time.monotonic() + limit
    while True:
        assert time.monotonic() < deadline, f"worker {worker.pid} held no claim within {limit:.0f} s"
        worker.send_signal(signal.SIGSTOP)
        held = int(ledger.sql(f"SELECT count(*) FROM claims WHERE owner LIKE '%:{worker.pid}';").strip())
        if held:
            worker.send_signal(signal.SIGKILL)
            worker.wait(timeout=30)
            return
        worker.send_signal(signal.SIGCONT)
        time.sleep(0.02)


def test_four_workers_two_killed_then_a_fifth_each_request_once(pg_ledger):
    ledger = pg_ledger
    ids = opened_and_verified(ledger, 36)
    logs = [open(ledger.root / f"worker{i}.log", "w+") for i in range(5)]
    workers = [start(ledger, logs[i]) for i in range(4)]
    try:
        # kill two of them with SIGKILL while copies are being made, each while it holds a claim
        wait_until(lambda: delivered_count(ledger) >= 4, 120, "the first copies")
        for w in workers[:2]:
            kill_while_holding_a_claim(ledger, w)
        # the two killed workers' leases expire; a fifth worker joins the two still running
        workers.append(start(ledger, logs[4]))
        wait_until(lambda: delivered_count(ledger) == len(ids), 240, "every request delivered")
        # nothing more happens: no request is fulfilled twice, however long they run
        time.sleep(TEST_LEASE_SECONDS + 1)
        assert delivered_count(ledger) == len(ids)
    finally:
        for w in workers:
            if w.poll() is None:
                w.send_signal(signal.SIGTERM)
        for w in workers:
            w.wait(timeout=60)
    # the survivors stopped cleanly on SIGTERM
    assert [w.returncode for w in workers[2:]] == [0, 0, 0]
    texts = []
    for log in logs:
        log.seek(0)
        texts.append(log.read())
        log.close()
    lines = [rid for text in texts for rid in delivered(text)]
    assert len(lines) == len(set(lines)), "a request was reported delivered twice"
    assert set(lines) <= set(ids)
    ledger.check_each_delivered_once(ids)
    # the killed workers' claims were taken over, and said so
    assert int(ledger.sql("SELECT count(*) FROM audit WHERE action = 'claim_recovered';").strip()) >= 1
    assert ledger.sql("SELECT count(*) FROM claims;").strip() == "0"


def test_sigterm_finishes_the_copy_under_way_and_exits_0(pg_ledger):
    ledger = pg_ledger
    ids = opened_and_verified(ledger, 12)
    with open(ledger.root / "worker.log", "w+") as log:
        w = start(ledger, log, jobs="1")
        wait_until(lambda: delivered_count(ledger) >= 1, 120, "a first copy")
        w.send_signal(signal.SIGTERM)
        w.wait(timeout=30)      # within a Kubernetes grace period
        log.seek(0)
        text = log.read()
    assert w.returncode == 0, text
    assert "stopped by a signal" in text
    done = delivered(text)
    assert 1 <= len(done) < len(ids), text
    # what it reported is exactly what the ledger holds; nothing is left claimed or half written
    assert sorted(done) == sorted(r for r in ids if ledger.show(r)["deliveries"])
    assert ledger.sql("SELECT count(*) FROM claims;").strip() == "0"
    assert not [n for n in ledger.archive_names() if n.startswith(".")]


def test_idle_worker_picks_up_work_that_arrives_later(pg_ledger):
    ledger = pg_ledger
    with open(ledger.root / "worker.log", "w+") as log:
        w = start(ledger, log, jobs="1")
        try:
            time.sleep(1.0)   # idle, polling with backoff
            ids = opened_and_verified(ledger, 2)
            wait_until(lambda: delivered_count(ledger) == 2, 60, "the requests opened after the worker started")
        finally:
            w.send_signal(signal.SIGTERM)
            w.wait(timeout=30)
    assert w.returncode == 0
    ledger.check_each_delivered_once(ids)


def test_worker_needs_the_archives_folder(pg_ledger):
    text = pg_ledger.map.read_text(encoding="utf-8").replace("  archives: ledger/archives\n", "")
    pg_ledger.map.write_text(text, encoding="utf-8")
    ids = opened_and_verified(pg_ledger, 1)
    proc = pg_ledger.run("worker", "--once", "--today", "2026-12-01")
    assert proc.returncode == 65, proc.stdout + proc.stderr
    assert f"failed: {ids[0]}: " in proc.stdout and "ledger.archives" in proc.stdout
    assert pg_ledger.sql("SELECT count(*) FROM claims;").strip() == "0"


def test_heartbeat_and_probe(pg_ledger, tmp_path):
    beat = tmp_path / "heartbeat"
    probe = ["worker", "--probe", "--heartbeat", beat, "--max-age", "5"]
    proc = pg_ledger.run(*probe, config=False, ledger=False)
    assert proc.returncode == 75 and "heartbeat" in proc.stderr, "no heartbeat yet: not alive"
    with open(pg_ledger.root / "worker.log", "w+") as log:
        w = subprocess.Popen(pg_ledger.argv("worker", "--jobs", "1", "--idle-max", "0.5", "--heartbeat", beat),
                             cwd=pg_ledger.root, stdout=log, stderr=subprocess.STDOUT, env=pg_ledger.env())
        try:
            wait_until(beat.exists, 60, "the first heartbeat")
            time.sleep(2)        # idle: it keeps beating while it polls
            assert time.time() - beat.stat().st_mtime < 1.5
            assert pg_ledger.run(*probe, config=False, ledger=False).returncode == 0
        finally:
            w.send_signal(signal.SIGTERM)
            w.wait(timeout=30)
    old = time.time() - 60
    import os
    os.utime(beat, (old, old))
    assert pg_ledger.run(*probe, config=False, ledger=False).returncode == 75
