"""`dossier batch` on a ledger (`--ledger`, `--in-ledger`): each row of the manifest opened once by
its request_id, verified when the officer says how (`--method`, `--by`), and copy 1 of each verified
request produced with the same claims as run-due and workers, counted once whatever stops the
batch. Every case runs on both ledger backends."""

from __future__ import annotations

import json
import signal
import subprocess
import time

import pytest

from ledger_helpers import TEST_LEASE_SECONDS, Ledger, make_samples_copy, samples_ledger
from test_run_due import emails

EX_USAGE = 64
EX_DATAERR = 65
VERIFY = ("--method", "list of the closed product's customers", "--by", "A. Nowak (DPO)")


@pytest.fixture(params=["sqlite", "postgres"])
def ledger(request, dossier, tmp_path) -> Ledger:
    return samples_ledger(request, dossier, tmp_path / "samples")


def manifest(ledger: Ledger, people: list[str], bad: bool = False, name="requests.csv"):
    path = ledger.root / name
    lines = ["request_id,email,received"] + [f"C-{i:03d},{e},2026-11-{2 + i % 20:02d}" for i, e in enumerate(people)]
    if bad:
        lines.append("C-bad,not-an-email,")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def batch(ledger: Ledger, path, *extra, in_ledger=False, timeout=300):
    """`batch` with --config and --ledger (or --in-ledger: the map's ledger, from its url_env or path)."""
    args = ["batch", "--requests", path, "--today", "2026-12-01", "--jobs", "2", *extra]
    if in_ledger:
        return ledger.run(*args, "--in-ledger", ledger=False, timeout=timeout)
    return ledger.run(*args, timeout=timeout)


def summary(proc) -> str:
    return next(line for line in proc.stdout.splitlines() if line.startswith("batch: "))


def test_unverified_rows_are_opened_and_nothing_leaves_then_verified_each_copy_once(ledger):
    people = emails(5)
    path = manifest(ledger, people, bad=True)
    first = batch(ledger, path)
    assert first.returncode == EX_DATAERR, first.stdout + first.stderr
    assert summary(first).startswith("batch: 6 requests: 0 done, 1 failed, 5 not verified, 0 skipped (already done), 0 not reached"), first.stdout
    assert "failed: C-bad: the email identifier given is not an e-mail address" in first.stdout
    assert sum(line.startswith("not verified: C-") for line in first.stdout.splitlines()) == 5
    assert "say how the manifest's identities were checked and by whom: run the same command again" in first.stderr
    assert first.stderr.rstrip().endswith(" --method 'HOW THE IDENTITIES WERE CHECKED' --by NAME"), first.stderr
    if ledger.backend == "postgres":
        assert "postgres://" not in first.stderr + first.stdout, "a URL with its password is never printed"
    assert ledger.archive_names() == []
    listed = {r["reference"]: r for r in ledger.list()}
    assert sorted(listed) == [f"C-{i:03d}" for i in range(5)]
    assert all(r["status"] == "received" and r["channel"] == "batch" for r in listed.values())
    assert listed["C-001"]["received"] == "2026-11-03" and listed["C-001"]["deadline"] == "2026-12-03"

    report = ledger.root / "report.jsonl"
    second = batch(ledger, path, *VERIFY, "--report", report, in_ledger=True)
    assert second.returncode == EX_DATAERR, second.stdout + second.stderr
    assert summary(second).startswith("batch: 6 requests: 5 done, 1 failed, 0 skipped (already done), 0 not reached"), second.stdout
    lines = [json.loads(line) for line in report.read_text(encoding="utf-8").splitlines()]
    assert [o["request_id"] for o in lines] == [f"C-{i:03d}" for i in range(5)] + ["C-bad"]
    assert [o["status"] for o in lines] == ["done"] * 5 + ["failed"]
    ids = [o["ledger_id"] for o in lines[:5]]
    assert ids == [listed[f"C-{i:03d}"]["id"] for i in range(5)]
    for o in lines[:5]:
        shown = ledger.show(o["ledger_id"])
        assert shown["status"] == "fulfilled" and o["copy"] == 1
        assert shown["verification"]["method"] == VERIFY[1] and shown["verification"]["by"] == VERIFY[3]
        d = shown["deliveries"][0]
        assert (d["sha256"], d["size"]) == (o["sha256"], o["size"])
        assert ledger.delivery_path(d).name == f"dossier-{o['ledger_id']}-copy1.zip"
    ledger.check_each_delivered_once(ids)

    # The same command again: nothing is opened or produced twice.
    path = manifest(ledger, people)
    third = batch(ledger, path, *VERIFY)
    assert third.returncode == 0, third.stdout + third.stderr
    assert summary(third).startswith("batch: 5 requests: 0 done, 0 failed, 5 skipped (already done), 0 not reached"), third.stdout
    assert len(ledger.list()) == 5
    ledger.check_each_delivered_once(ids)


def test_two_batches_and_run_due_at_once_give_each_request_one_copy(ledger):
    people = emails(12)
    path = manifest(ledger, people)
    opened = ledger.request("import", path, "--today", "2026-12-01", *VERIFY)
    assert opened.returncode == 0, opened.stdout + opened.stderr
    assert opened.stdout.count("verified: DSR-") == 12, opened.stdout
    report_a, report_b = ledger.root / "a.jsonl", ledger.root / "b.jsonl"
    runs = [ledger.popen("batch", "--requests", path, "--today", "2026-12-01", "--jobs", "2", "--report", report_a),
            ledger.popen("batch", "--requests", path, "--today", "2026-12-01", "--jobs", "2", "--report", report_b),
            ledger.popen("run-due", "--today", "2026-12-01", "--jobs", "1")]
    for p in runs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, out + err
    done = {}
    for report in (report_a, report_b):
        for line in report.read_text(encoding="utf-8").splitlines():
            o = json.loads(line)
            assert o["status"] in ("done", "skipped"), o
            if o["status"] == "done":
                assert o["ledger_id"] not in done, f"{o['ledger_id']} produced by both batches"
                done[o["ledger_id"]] = o
    ids = [r["id"] for r in ledger.list()]
    assert len(ids) == 12
    ledger.check_each_delivered_once(ids)


def test_batch_killed_and_run_again_delivers_each_copy_once(ledger):
    people = emails(16)
    path = manifest(ledger, people)
    kills = 0
    for attempt in range(40):
        proc = subprocess.Popen(ledger.argv("batch", "--requests", path, "--today", "2026-12-01", "--jobs", "2", *VERIFY),
                                cwd=ledger.root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ledger.env())
        try:
            out, err = proc.communicate(timeout=0.15 + 0.08 * attempt)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.communicate(timeout=60)
            kills += 1
            continue
        assert proc.returncode == 0, out + err
        break
    assert kills >= 1, "the batch was never interrupted"
    if ledger.backend == "postgres":
        # A killed batch's claims are leases: the run that completed skipped them; once they
        # expire, the next run takes them over.
        time.sleep(TEST_LEASE_SECONDS + 0.5)
    final = batch(ledger, path, *VERIFY)
    assert final.returncode == 0, final.stdout + final.stderr
    assert summary(final).startswith("batch: 16 requests: "), final.stdout
    again = batch(ledger, path, *VERIFY)
    assert again.returncode == 0 and summary(again).startswith("batch: 16 requests: 0 done, 0 failed, 16 skipped"), again.stdout
    listed = ledger.list()
    assert sorted(r["reference"] for r in listed) == [f"C-{i:03d}" for i in range(16)]
    ledger.check_each_delivered_once([r["id"] for r in listed])


def test_a_refused_request_is_named_and_left_alone(ledger):
    people = emails(2)
    path = manifest(ledger, people)
    opened = ledger.request("import", path, "--today", "2026-12-01")
    assert opened.returncode == 0, opened.stdout + opened.stderr
    refused = next(r for r in ledger.list() if r["reference"] == "C-001")
    proc = ledger.request("refuse", refused["id"], "--reason", "manifestly unfounded", "--today", "2026-12-01")
    assert proc.returncode == 0, proc.stderr
    run = batch(ledger, path, *VERIFY)
    assert run.returncode == EX_DATAERR, run.stdout + run.stderr
    assert f"failed: C-001 ({refused['id']}): request {refused['id']} is refused; no data leaves for it" in run.stdout
    assert summary(run).startswith("batch: 2 requests: 1 done, 1 failed, 0 skipped"), run.stdout
    assert ledger.show(refused["id"])["deliveries"] == []


@pytest.mark.parametrize("args, message", [
    (["--out", "x", "--in-ledger"], "on a ledger the archives go to its folder (ledger.archives): leave out --out"),
    (["--in-ledger", "--method", "m"], "--method and --by go together"),
    (["--in-ledger", "--as-of", "2026-01-31T09:00:00Z"], "a copy recorded in the ledger speaks for the time it is made"),
    ([], "name the folder of the archives with --out"),
    (["--out", "x", "--method", "m", "--by", "b"], "--method is for a batch on a ledger"),
])
def test_options_that_do_not_go_together(dossier, tmp_path, args, message):
    samples = make_samples_copy(tmp_path / "samples")
    path = tmp_path / "requests.csv"
    path.write_text("request_id,email\nR-1,a@example.pl\n", encoding="utf-8")
    proc = subprocess.run([dossier, "batch", "--config", samples, "--requests", path, *args], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == EX_USAGE, proc.stdout + proc.stderr
    assert message in proc.stderr
    assert not (tmp_path / "x").exists() and not (samples.parent / "ledger").exists()


def test_import_with_method_and_by_verifies_each_row_once(ledger):
    people = emails(3)
    path = manifest(ledger, people)
    plain = ledger.request("import", path, "--today", "2026-12-01")
    assert plain.returncode == 0 and "verified" not in plain.stdout, plain.stdout
    proc = ledger.request("import", path, "--today", "2026-12-01", *VERIFY)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("; verified now") == 3, proc.stdout
    again = ledger.request("import", path, "--today", "2026-12-01", *VERIFY)
    assert again.returncode == 0 and "verified now" not in again.stdout, again.stdout
    for r in ledger.list():
        shown = ledger.show(r["id"])
        assert shown["status"] == "verified" and shown["verification"]["by"] == VERIFY[3]
        assert sum(h.get("status") == "verified" or "identity checked" in json.dumps(h) for h in shown["history"]) == 1, shown["history"]
    half = ledger.request("import", path, "--method", "x")
    assert half.returncode == EX_USAGE and "--method and --by go together" in half.stderr
    assert ledger.audit("verify").returncode == 0
