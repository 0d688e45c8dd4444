"""`dossier request import` and `dossier run-due`: many requests opened from a manifest (each once,
by its reference), and the scheduled job that gives every verified request without a copy its
copy 1, earliest deadline first, with the same claim and crash rules as `request fulfil`."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from conftest import SAMPLES_MAP, read_archive
from ledger_helpers import TEST_LEASE_SECONDS, Ledger, samples_ledger

EX_DATAERR = 65


def emails(n: int) -> list[str]:
    with open(SAMPLES_MAP.parent / "mailing" / "subscribers.csv", newline="", encoding="utf-8") as f:
        found = sorted({row["Email Address"].strip().lower() for row in csv.DictReader(f)})
    return found[:n]


@pytest.fixture(params=["sqlite", "postgres"])
def ledger(request, dossier, tmp_path) -> Ledger:
    """The samples with a ledger of each backend (a fresh PostgreSQL database for the second)."""
    return samples_ledger(request, dossier, tmp_path / "samples")


def import_csv(ledger: Ledger, rows: list[list[str]], header=("request_id", "email", "received", "kind"), *extra):
    manifest = ledger.root / "requests.csv"
    with open(manifest, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return ledger.request("import", manifest, "--today", "2026-12-01", *extra)


def test_import_opens_each_row_once(ledger):
    people = emails(4)
    rows = [["T-1", people[0], "2026-11-02", "access"], ["T-2", people[1], "2026-11-20", "portability"],
            ["T-3", people[2], "", ""], ["T-bad", "not-an-email", "", ""], ["T-4", people[3], "2026-13-01", ""]]
    proc = import_csv(ledger, rows)
    assert proc.returncode == EX_DATAERR, proc.stdout + proc.stderr
    assert "import: 5 rows: 3 opened, 0 already in the ledger, 2 failed" in proc.stdout
    assert "failed: T-bad: the email identifier given is not an e-mail address" in proc.stdout
    assert "failed: T-4: received '2026-13-01' is not a date" in proc.stdout
    listed = {r["reference"]: r for r in ledger.list()}
    assert sorted(listed) == ["T-1", "T-2", "T-3"]
    assert listed["T-1"]["received"] == "2026-11-02" and listed["T-1"]["deadline"] == "2026-12-02"
    assert listed["T-2"]["kind"] == "portability"
    assert listed["T-3"]["received"] == "2026-12-01" and listed["T-3"]["channel"] == "import"
    assert ledger.show(listed["T-1"]["id"])["reference"] == "T-1"
    again = import_csv(ledger, rows[:3])
    assert again.returncode == 0, again.stdout + again.stderr
    assert "import: 3 rows: 0 opened, 3 already in the ledger, 0 failed" in again.stdout
    assert len(ledger.list()) == 3
    audit = ledger.audit("verify")
    assert audit.returncode == 0, audit.stdout + audit.stderr


def open_verified(ledger: Ledger, received: list[str]) -> list[str]:
    ids = []
    for email, day in zip(emails(len(received)), received):
        rid, _ = ledger.open([("email", email)], day, today="2026-12-01")
        ledger.verify(rid, "2026-12-01")
        ids.append(rid)
    return ids


def delivered_lines(proc) -> list[str]:
    return [line.split()[1] for line in proc.stdout.splitlines() if line.startswith("delivered: ")]


def test_run_due_fulfils_verified_requests_earliest_deadline_first(ledger):
    ids = open_verified(ledger, ["2026-11-20", "2026-11-03", "2026-11-12", "2026-11-25"])
    unverified, _ = ledger.open([("email", emails(6)[5])], "2026-11-01", today="2026-12-01")
    refused = ids.pop()  # received 25 Nov, verified, then refused: never delivered
    assert ledger.request("refuse", refused, "--reason", "manifestly unfounded", "--today", "2026-12-01").returncode == 0
    proc = ledger.run("run-due", "--today", "2026-12-01", "--jobs", "1")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert delivered_lines(proc) == [ids[1], ids[2], ids[0]], "not earliest deadline first"
    assert "run-due: 3 delivered, 0 skipped, 0 failed, 0 not reached" in proc.stdout
    for rid in ids:
        shown = ledger.show(rid)
        assert shown["status"] == "fulfilled"
        assert [(d["copy"], d["fee"]) for d in shown["deliveries"]] == [(1, "0.00")]
        path = ledger.delivery_path(shown["deliveries"][0])
        assert hashlib.sha256(path.read_bytes()).hexdigest() == shown["deliveries"][0]["sha256"]
        manifest = json.loads(read_archive(path)["manifest.json"])
        assert manifest["delivery"] is True and manifest["copy"] == 1 and manifest["request_id"] == rid
    assert ledger.show(unverified)["deliveries"] == [] and ledger.show(refused)["deliveries"] == []
    again = ledger.run("run-due", "--today", "2026-12-01")
    assert again.returncode == 0 and again.stdout.strip() == "run-due: nothing is due", again.stdout
    assert ledger.audit("verify").returncode == 0


def test_run_due_limit_takes_the_earliest(ledger):
    ids = open_verified(ledger, ["2026-11-20", "2026-11-03", "2026-11-12"])
    proc = ledger.run("run-due", "--today", "2026-12-01", "--limit", "1")
    assert proc.returncode == 0, proc.stderr
    assert delivered_lines(proc) == [ids[1]]
    assert "run-due: 1 request(s) due, the earliest deadline 2026-12-03" in proc.stdout


def test_a_request_claimed_by_a_live_process_is_skipped(ledger):
    ids = open_verified(ledger, ["2026-11-20", "2026-11-21"])
    if ledger.backend == "sqlite":
        # A live process on this host holds the first request's claim (this test's own pid).
        ledger.sqlite(f"INSERT INTO claims (request_id, token, pid, host, started_at) VALUES "
                      f"('{ids[0]}', 'other', {os.getpid()}, '{socket.gethostname()}', '2026-12-01T10:00:00Z')")
    else:
        # Another worker, anywhere, holds a lease that runs for an hour.
        ledger.sql(f"INSERT INTO claims (request_id, token, owner, started_at, expires_at) VALUES "
                   f"('{ids[0]}', 'other', 'worker-7:42', now(), now() + interval '1 hour')")
    proc = ledger.run("run-due", "--today", "2026-12-01")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"skipped: {ids[0]}: " in proc.stdout and "being fulfilled by another process" in proc.stdout
    assert delivered_lines(proc) == [ids[1]]
    assert ledger.show(ids[0])["deliveries"] == []


def dead_claim(ledger: Ledger, rid: str) -> None:
    """A claim on `rid` whose holder is gone: a process of this host that has ended (SQLite), a
    lease that ran out (PostgreSQL)."""
    if ledger.backend == "sqlite":
        gone = subprocess.Popen(["true"])
        gone.wait()
        ledger.sqlite(f"INSERT INTO claims (request_id, token, pid, host, started_at) VALUES "
                      f"('{rid}', 'dead', {gone.pid}, '{socket.gethostname()}', '2026-12-01T10:00:00Z')")
    else:
        ledger.sql(f"INSERT INTO claims (request_id, token, owner, started_at, expires_at) VALUES "
                   f"('{rid}', 'dead', 'worker-9:13', now() - interval '2 hours', now() - interval '1 hour')")


@pytest.mark.parametrize("how", ["fulfil", "run-due"])
def test_a_claim_left_by_a_dead_process_is_taken_over_and_what_it_left_removed(ledger, how):
    """What a process killed while producing copy 1 leaves in the archives folder (its staging
    folder, a partial archive, a finished archive never recorded) is removed by the process that
    takes its claim over, through `request fulfil` (claim) as through `run-due` (claimNext); another
    request's files are not touched. A claim taken normally does not look for such files: the
    folder, which holds every copy ever delivered, is listed only on a takeover."""
    rid, other = open_verified(ledger, ["2026-11-20", "2026-11-21"])
    ledger.archives.mkdir(parents=True, exist_ok=True)
    staging = ledger.archives / f".dossier-staging-{rid}-0badf00d"
    (staging / "bundle").mkdir(parents=True)
    (staging / "bundle" / "manifest.json").write_text("{}")
    left = [f".dossier-{rid}-copy1.zip.partial", f"dossier-{rid}-copy1.tar.gz"]
    for name in left:
        (ledger.archives / name).write_bytes(b"half")
    (ledger.archives / f"dossier-{other}-copy1.tar.gz").write_bytes(b"not this request's")
    dead_claim(ledger, rid)
    if how == "fulfil":
        proc = ledger.request("fulfil", rid, "--today", "2026-12-01")
    else:
        proc = ledger.run("run-due", "--today", "2026-12-01", "--limit", "1")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert [d["copy"] for d in ledger.show(rid)["deliveries"]] == [1]
    assert ledger.archive_names() == sorted([f"dossier-{other}-copy1.tar.gz", f"dossier-{rid}-copy1.zip"])
    assert ledger.sql(f"SELECT action FROM audit WHERE request_id = '{rid}' ORDER BY seq;").split() == [
        "opened", "verified", "claim_recovered", "delivered"]
    assert ledger.audit("verify").returncode == 0


def test_run_due_killed_and_run_again_delivers_each_copy_once(ledger):
    ids = open_verified(ledger, [f"2026-11-{d:02d}" for d in range(2, 26)])
    kills = 0
    for attempt in range(30):
        # Output to a file, not a pipe: nothing can keep a killed run's pipe open and hang the test.
        with open(ledger.root / "run-due.err", "w+") as err:
            proc = subprocess.Popen(ledger.argv("run-due", "--today", "2026-12-01", "--jobs", "2"), cwd=ledger.root,
                                    stdout=subprocess.DEVNULL, stderr=err, env=ledger.env())
            try:
                proc.wait(timeout=0.08 + 0.06 * attempt)
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGKILL)
                proc.wait(timeout=60)
                kills += 1
                continue
            err.seek(0)
            assert proc.returncode == 0, err.read()
        break
    if ledger.backend == "postgres":
        # A killed run's claims are leases: they stand until they expire (no process id can tell that
        # their holder is gone: it may be on another machine), so the run that completed skipped
        # them. Once they expire, the next run takes them over.
        time.sleep(TEST_LEASE_SECONDS + 0.5)
        rest = ledger.run("run-due", "--today", "2026-12-01")
        assert rest.returncode == 0 and "skipped:" not in rest.stdout, rest.stdout + rest.stderr
    final = ledger.run("run-due", "--today", "2026-12-01")
    assert final.returncode == 0, final.stdout + final.stderr
    assert final.stdout.strip() == "run-due: nothing is due", final.stdout
    assert kills >= 1, "the run was never interrupted"
    ledger.check_each_delivered_once(ids)


def test_run_due_with_nothing_in_the_ledger(ledger):
    proc = ledger.run("run-due", "--today", "2026-12-01")
    assert proc.returncode == 0 and proc.stdout.strip() == "run-due: nothing is due"
