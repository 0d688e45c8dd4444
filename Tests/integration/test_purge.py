"""Expiry (issue 10, item 5), on both ledger backends: a delivered archive carries its last day (the
map's ledger.expires_after, or --expires), `dossier purge` deletes it after that day, and the ledger
keeps the delivery row, its hash and the day it was purged (in the audit chain too); a later copy is
a new copy."""
from __future__ import annotations

import json
import zipfile

import pytest

from conftest import assert_one_line_error, run
from ledger_helpers import Ledger, make_samples_copy, samples_ledger

ZOFIA = "zofia.wisniewska@example.pl"


@pytest.fixture(params=["sqlite", "postgres"])
def expiring_ledger(request, dossier, tmp_path) -> Ledger:
    return samples_ledger(request, dossier, tmp_path / "samples", settings=("expires_after: P30D",))


def purge(ledger: Ledger, today: str) -> list[str]:
    proc = ledger.run("purge", "--today", today)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.splitlines()


def test_expired_archives_are_purged_and_the_ledger_remembers(expiring_ledger):
    ledger = expiring_ledger
    rid, _ = ledger.open([("email", ZOFIA)], "2026-11-02")
    ledger.verify(rid, "2026-11-02")
    first = ledger.fulfil(rid, "2026-11-02")                           # kept until 2 December (P30D)
    short, _ = ledger.open([("email", "anna.backer@example.pl")], "2026-11-02")
    ledger.verify(short, "2026-11-02")
    second = ledger.fulfil(short, "2026-11-02", "--expires", "7d")     # kept until 9 November
    with zipfile.ZipFile(first) as z:
        manifest = json.loads(next(z.read(n) for n in z.namelist() if n.endswith("manifest.json")))
    assert manifest["expires_on"] == "2026-12-02"
    assert ledger.show(rid)["deliveries"][0]["expires_on"] == "2026-12-02"
    assert ledger.show(short)["deliveries"][0]["expires_on"] == "2026-11-09"

    assert purge(ledger, "2026-11-09") == ["purge: 0 archives deleted"]      # its last day: kept
    assert purge(ledger, "2026-11-10") == [f"purged: {short} copy 1 (kept until 2026-11-09): {second}",
                                           "purge: 1 archive deleted"]
    assert not second.exists() and first.exists()
    assert purge(ledger, "2026-11-10") == ["purge: 0 archives deleted"]      # once
    first.unlink()                                                          # gone by hand meanwhile
    assert purge(ledger, "2026-12-03") == [f"purged: {rid} copy 1 (kept until 2026-12-02): {first} (already gone)",
                                           "purge: 1 archive deleted"]
    delivery = ledger.show(short)["deliveries"][0]
    assert delivery["purged_at"].startswith("2026-11-10") and len(delivery["sha256"]) == 64
    purged = [json.loads(line) for line in ledger.audit("export").stdout.splitlines()
              if json.loads(line)["action"] == "purged"]
    assert [(p["request_id"], p["detail"]["copy"], p["detail"]["expires_on"]) for p in purged] == [
        (short, "1", "2026-11-09"), (rid, "1", "2026-12-02")]
    assert purged[0]["detail"]["sha256"] == delivery["sha256"]
    assert ledger.audit("verify").returncode == 0
    # a later copy is a new copy, at the fee of a further copy
    proc = ledger.request("copy", short, "--accept-fee", "--today", "2026-11-11")
    assert proc.returncode == 0, proc.stderr
    copies = ledger.show(short)["deliveries"]
    assert [d["copy"] for d in copies] == [1, 2] and copies[1]["fee"] != "0.00" and copies[1]["purged_at"] is None


def test_without_expiry_nothing_is_purged(dossier, tmp_path):
    ledger = Ledger(dossier, make_samples_copy(tmp_path / "plain"))
    rid, _ = ledger.open([("email", ZOFIA)], "2026-01-05")
    ledger.verify(rid, "2026-01-05")
    archive = ledger.fulfil(rid, "2026-01-05")
    assert ledger.show(rid)["deliveries"][0]["expires_on"] is None
    assert purge(ledger, "2036-01-01") == ["purge: 0 archives deleted"]
    assert archive.exists()


@pytest.mark.parametrize("value,must", [("0d", "--expires"), ("7x", "--expires"), ("-3d", "--expires")])
def test_bad_expiry(dossier, tmp_path, value, must):
    ledger = Ledger(dossier, make_samples_copy(tmp_path / "plain"))
    rid, _ = ledger.open([("email", ZOFIA)], "2026-01-05")
    proc = ledger.request("fulfil", rid, "--expires", value, "--today", "2026-01-05")
    assert proc.returncode == 64 and must in proc.stderr, proc.stderr


def test_bad_expires_after_in_the_map(dossier, tmp_path):
    path = make_samples_copy(tmp_path / "m", settings=("expires_after: 30 days",))
    assert_one_line_error(run(dossier, "validate", "--config", path), 64, "expires_after must be a period such as P30D")


def test_expires_on_run_due_a_worker_and_a_ledger_batch(expiring_ledger, tmp_path):
    """--expires overrides the map's expires_after (P30D here) wherever copy 1 is made in bulk; a batch
    without a ledger has nothing to purge with and refuses it."""
    ledger = expiring_ledger
    due, _ = ledger.open([("email", ZOFIA)], "2026-11-02")
    ledger.verify(due, "2026-11-02")
    proc = ledger.run("run-due", "--expires", "7d", "--today", "2026-11-02")
    assert proc.returncode == 0, proc.stderr
    assert ledger.show(due)["deliveries"][0]["expires_on"] == "2026-11-09"

    worked, _ = ledger.open([("email", "anna.backer@example.pl")], "2026-11-02")
    ledger.verify(worked, "2026-11-02")
    proc = ledger.run("worker", "--once", "--jobs", "1", "--expires", "2w", "--today", "2026-11-02")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert ledger.show(worked)["deliveries"][0]["expires_on"] == "2026-11-16"

    manifest = tmp_path / "rows.csv"
    manifest.write_text("request_id,email\nROW-1,jan.kowalczyk@example.pl\n", encoding="utf-8")
    proc = ledger.run("batch", "--requests", manifest, "--method", "customer list", "--by", "A. Nowak (DPO)",
                      "--expires", "1m", "--today", "2026-11-02")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    listed = json.loads(ledger.request("list", "--json", "--today", "2026-11-02").stdout)
    batched = next(r for r in listed if r["reference"] == "ROW-1")
    assert batched["deliveries"][0]["expires_on"] == "2026-12-02"

    proc = ledger.run("batch", "--requests", manifest, "--out", tmp_path / "out", "--expires", "7d", ledger=False)
    assert proc.returncode == 64 and "--expires" in proc.stderr, proc.stderr
    assert not (tmp_path / "out").exists()
