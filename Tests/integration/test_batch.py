"""`dossier batch`: one archive per request of a manifest, byte for byte what `dossier export` makes
of the same request; bad requests fail alone; a batch killed at any moment and started again
finishes the rest, each request once; SIGTERM stops cleanly."""

from __future__ import annotations

import csv
import json
import os
import random
import signal
import subprocess
import time
import zipfile
from pathlib import Path

import pytest

import oracle
from conftest import (EX_USAGE, MINI_MAP, SAMPLES_MAP, assert_one_line_error, build_mini, export, read_archive, run)

AS_OF = "2026-01-02T03:04:05Z"
EX_DATAERR, EX_TEMPFAIL = 65, 75


def sample_emails(n: int) -> list[str]:
    with open(SAMPLES_MAP.parent / "mailing" / "subscribers.csv", newline="", encoding="utf-8") as f:
        emails = sorted({row["Email Address"].strip().lower() for row in csv.DictReader(f)})
    assert len(emails) >= n
    return emails[:n]


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


def batch(dossier, config, manifest, out, *extra, timeout=600) -> subprocess.CompletedProcess:
    return run(dossier, "batch", "--config", config, "--requests", manifest, "--out", out, "--as-of", AS_OF, *extra,
               timeout=timeout)


def report(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "report.jsonl").read_text(encoding="utf-8").splitlines()]


def leftovers(out: Path) -> list[str]:
    return sorted(n for n in os.listdir(out) if n.startswith(".dossier-staging-") or n.endswith(".partial"))


def export_bytes(dossier, config, identifiers, request_id, tmp: Path, fmt="zip", kind="access") -> bytes:
    tmp.mkdir(parents=True, exist_ok=True)
    args = ["export", "--config", config, "--out", tmp, "--request-id", request_id, "--as-of", AS_OF, "--format", fmt, "--kind", kind]
    for k, v in identifiers:
        args += ["--email", v] if k == "email" else ["--phone", v] if k == "phone" else ["--id", f"{k}={v}"]
    proc = run(dossier, *args)
    assert proc.returncode == 0, proc.stderr
    return Path(proc.stdout.splitlines()[-1]).read_bytes()


def test_every_archive_is_what_export_makes_of_the_request(dossier, tmp_path):
    emails = sample_emails(30)
    rows = [[f"S-{i:03d}", e, "", "", ""] for i, e in enumerate(emails)]
    rows += [["S-phone", "", "0048 22 122-86-17", "", ""],
             ["S-two", f"{emails[0]}|{emails[1]}", "", "", ""],
             ["S-port", emails[2], "", "portability", "tar.gz"],
             ["S-nobody", "nobody.at.all@example.invalid", "", "", "tar.zst"]]
    manifest = write_csv(tmp_path / "requests.csv", ["request_id", "email", "phone", "kind", "format"], rows)
    out = tmp_path / "out"
    proc = batch(dossier, SAMPLES_MAP, manifest, out, "--jobs", "2")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"batch: {len(rows)} requests: {len(rows)} done, 0 failed, 0 skipped" in proc.stdout
    lines = report(out)
    assert [r["request_id"] for r in lines] == [r[0] for r in rows], "the report is not one line per request, in order"
    assert all(r["status"] == "done" and r["error"] is None for r in lines)
    for r, row in zip(lines, rows):
        ext = row[4] or "zip"
        archive = Path(r["archive"])
        assert archive == out / f"dossier-{row[0]}.{ext}"
        assert archive.stat().st_size == r["size"]
        assert (archive.stat().st_mode & 0o777) == 0o600
        ids = [("email", e) for e in row[1].split("|") if e] + ([("phone", row[2])] if row[2] else [])
        expected = export_bytes(dossier, SAMPLES_MAP, ids, row[0], tmp_path / "single", fmt=ext, kind=row[3] or "access")
        assert archive.read_bytes() == expected, f"{row[0]}: the batch's archive differs from dossier export's"
    # Counts in the report agree with the independent resolver.
    for r, row in list(zip(lines, rows))[:8]:
        expected = oracle.resolve(str(SAMPLES_MAP), [("email", row[1])])
        assert r["records"] == sum(len(v) for v in expected.records.values()), row[0]
    assert leftovers(out) == []
    assert not (out / ".dossier-batch" / "indexes").exists(), "the run's temporary indexes were left behind"


def test_json_lines_manifest_gives_the_same_archives(dossier, tmp_path):
    emails = sample_emails(6)
    csv_manifest = write_csv(tmp_path / "r.csv", ["request_id", "email"], [[f"J-{i}", e] for i, e in enumerate(emails)])
    jsonl = tmp_path / "r.jsonl"
    jsonl.write_text("".join(json.dumps({"request_id": f"J-{i}", "email": [e]}) + "\n" for i, e in enumerate(emails)), encoding="utf-8")
    assert batch(dossier, SAMPLES_MAP, csv_manifest, tmp_path / "a").returncode == 0
    proc = batch(dossier, SAMPLES_MAP, jsonl, tmp_path / "b")
    assert proc.returncode == 0, proc.stderr
    for i in range(len(emails)):
        assert (tmp_path / "a" / f"dossier-J-{i}.zip").read_bytes() == (tmp_path / "b" / f"dossier-J-{i}.zip").read_bytes()


def test_bad_requests_fail_alone(dossier, tmp_path):
    """Identifiers that are none, a request id that would escape the folder, a kind and a language
    that do not exist, a request without identifiers, and an identifier whose lookup the source
    itself rejects: each fails with its reason; every good request is delivered."""
    text = MINI_MAP.replace("  lists:\n", "      by_id:\n        key: [id]\n"
                            "        lookup: { crm_id: SELECT * FROM contacts WHERE id = json(:value) }\n"
                            "        purposes: [service]\n        retention: { period: P1Y }\n        origin: subject\n"
                            "        fields: { email: { category: contact } }\n  lists:\n", 1)
    config = build_mini(tmp_path / "m", map_text=text)
    manifest = write_csv(tmp_path / "r.csv", ["request_id", "email", "crm_id", "kind", "language"], [
        ["G-1", "anna@example.pl", "", "", ""],
        ["B-email", "not-an-email", "", "", ""],
        ["../escape", "anna@example.pl", "", "", ""],
        ["B-kind", "anna@example.pl", "", "everything", ""],
        ["B-lang", "anna@example.pl", "", "", "de"],
        ["B-none", "", "", "", ""],
        ["B-source", "", "not json", "", ""],
        ["G-2", "jan@example.pl", "2", "", "pl"],
    ])
    out = tmp_path / "out"
    proc = batch(dossier, config, manifest, out)
    assert proc.returncode == EX_DATAERR, proc.stdout + proc.stderr
    assert "batch: 8 requests: 2 done, 6 failed" in proc.stdout
    lines = {r["request_id"]: r for r in report(out)}
    assert lines["G-1"]["status"] == "done" and lines["G-2"]["status"] == "done"
    reasons = {
        "B-email": "not an e-mail address", "../escape": "request id may hold only", "B-kind": "neither access nor portability",
        "B-lang": "not 'de'", "B-none": "no identifier", "B-source": "query failed",
    }
    for rid, reason in reasons.items():
        assert lines[rid]["status"] == "failed" and reason in lines[rid]["error"], (rid, lines[rid])
        assert f"failed: {rid}: " in proc.stdout
        assert lines[rid]["archive"] is None
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == ["dossier-G-1.zip", "dossier-G-2.zip", "report.jsonl"]
    assert not (tmp_path / "escape").exists() and not any(p.name.startswith("dossier-") for p in tmp_path.iterdir())
    assert "not-an-email" not in proc.stderr and "not json" not in proc.stderr, "a log line carries an identifier"
    assert "requests failed" in proc.stderr.splitlines()[-1]


@pytest.mark.parametrize("content, message", [
    ("request_id,email\nR-1,a@example.pl\nR-1,b@example.pl\n", "given twice (first on line 2)"),
    ("request_id,emial\nR-1,a@example.pl\n", "unknown column 'emial'"),
    ("id,email\nR-1,a@example.pl\n", "no request_id column"),
    ("request_id,email\nR-1\n", "1 cells where the header has 2"),
    ("", "the manifest is empty"),
])
def test_a_broken_manifest_runs_nothing(dossier, mini_map, tmp_path, content, message):
    manifest = tmp_path / "r.csv"
    manifest.write_text(content, encoding="utf-8")
    proc = batch(dossier, mini_map, manifest, tmp_path / "out")
    assert_one_line_error(proc, EX_USAGE, message, "r.csv")
    assert not (tmp_path / "out").exists() or not any(p.suffix == ".zip" for p in (tmp_path / "out").iterdir())


def test_a_broken_json_lines_manifest_names_the_line(dossier, mini_map, tmp_path):
    manifest = tmp_path / "r.jsonl"
    manifest.write_text('{"request_id": "R-1", "email": "anna@example.pl"}\n{"request_id": "R-2", "email": \n', encoding="utf-8")
    assert_one_line_error(batch(dossier, mini_map, manifest, tmp_path / "out"), EX_USAGE, "r.jsonl:2", "not JSON")


def test_a_finished_batch_run_again_skips_everything(dossier, tmp_path):
    manifest = write_csv(tmp_path / "r.csv", ["request_id", "email"], [[f"A-{i}", e] for i, e in enumerate(sample_emails(5))])
    out = tmp_path / "out"
    assert batch(dossier, SAMPLES_MAP, manifest, out).returncode == 0
    before = {p.name: p.stat().st_mtime_ns for p in out.glob("dossier-*.zip")}
    proc = batch(dossier, SAMPLES_MAP, manifest, out)
    assert proc.returncode == 0, proc.stderr
    assert "5 requests: 0 done, 0 failed, 5 skipped (already done)" in proc.stdout
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("dossier-*.zip")} == before, "a finished archive was written again"
    assert [r["status"] for r in report(out)] == ["skipped"] * 5
    # An archive that was damaged since is made again; a request that changed is done again.
    damaged = out / "dossier-A-3.zip"
    damaged.write_bytes(damaged.read_bytes()[:-10])
    rows = [[f"A-{i}", e] for i, e in enumerate(sample_emails(5))]
    rows[1][1] = sample_emails(6)[5]
    write_csv(manifest, ["request_id", "email"], rows)
    proc = batch(dossier, SAMPLES_MAP, manifest, out)
    assert "5 requests: 2 done, 0 failed, 3 skipped" in proc.stdout, proc.stdout
    with zipfile.ZipFile(damaged) as z:
        assert z.testzip() is None


def test_killed_at_random_moments_and_restarted_until_done(dossier, tmp_path):
    """SIGKILL at random moments; each restart finishes more; in the end every request has one
    complete archive, reported once, byte-identical to an uninterrupted run."""
    emails = sample_emails(100)
    manifest = write_csv(tmp_path / "r.csv", ["request_id", "email"], [[f"K-{i:02d}", e] for i, e in enumerate(emails)])
    clean = tmp_path / "clean"
    assert batch(dossier, SAMPLES_MAP, manifest, clean, "--jobs", "2").returncode == 0
    out = tmp_path / "out"
    rng = random.Random(20261202)
    argv = [dossier, "batch", "--config", str(SAMPLES_MAP), "--requests", str(manifest), "--out", str(out), "--as-of", AS_OF, "--jobs", "2"]
    kills = 0
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        # Output to a file, not a pipe: nothing can keep a killed run's pipe open and hang the test.
        with open(tmp_path / "batch.err", "w+") as err:
            proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err)
            try:
                proc.wait(timeout=rng.uniform(0.05, 0.5))
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGKILL)
                proc.wait(timeout=60)
                kills += 1
                continue
            err.seek(0)
            assert proc.returncode == 0, err.read()
        break
    else:
        pytest.fail("the batch did not finish within the time bound")
    assert kills >= 3, f"only {kills} kills: the test did not interrupt the batch"
    lines = report(out)
    assert [r["request_id"] for r in lines] == [f"K-{i:02d}" for i in range(100)]
    assert all(r["status"] in ("done", "skipped") for r in lines)
    assert leftovers(out) == []
    for i in range(100):
        name = f"dossier-K-{i:02d}.zip"
        assert (out / name).read_bytes() == (clean / name).read_bytes(), name
    journal = [json.loads(line) for line in (out / ".dossier-batch" / "journal.jsonl").read_text().splitlines() if line.strip()]
    done = [j["request_id"] for j in journal if j["status"] == "done"]
    assert sorted(set(done)) == [f"K-{i:02d}" for i in range(100)]


def test_sigterm_stops_cleanly_and_says_how_to_resume(dossier, tmp_path):
    emails = sample_emails(100)
    manifest = write_csv(tmp_path / "r.csv", ["request_id", "email"], [[f"T-{i:02d}", e] for i, e in enumerate(emails)])
    out = tmp_path / "out"
    argv = [dossier, "batch", "--config", str(SAMPLES_MAP), "--requests", str(manifest), "--out", str(out), "--as-of", AS_OF, "--jobs", "2"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    journal = out / ".dossier-batch" / "journal.jsonl"
    for _ in range(500):  # the signal arrives once a few requests are done
        if journal.exists() and len(journal.read_text().splitlines()) >= 3:
            break
        time.sleep(0.01)
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == EX_TEMPFAIL, stdout + stderr
    assert "run the same command again" in stderr
    lines = report(out)
    pending = [r for r in lines if r["status"] == "pending"]
    assert pending and len(lines) == 100
    assert leftovers(out) == []
    assert all((out / f"dossier-{r['request_id']}.zip").is_file() for r in lines if r["status"] == "done")
    proc = batch(dossier, SAMPLES_MAP, manifest, out)
    assert proc.returncode == 0 and f"0 failed, {100 - len(pending)} skipped" in proc.stdout, proc.stdout


def test_two_batches_cannot_write_into_one_folder(dossier, tmp_path):
    manifest = write_csv(tmp_path / "r.csv", ["request_id", "email"], [[f"C-{i:02d}", e] for i, e in enumerate(sample_emails(100))])
    out = tmp_path / "out"
    argv = [dossier, "batch", "--config", str(SAMPLES_MAP), "--requests", str(manifest), "--out", str(out), "--as-of", AS_OF]
    first = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        journal = out / ".dossier-batch" / "journal.jsonl"
        for _ in range(500):  # the first batch is under way
            if journal.exists() and journal.read_text():
                break
            time.sleep(0.01)
        second = run(dossier, *argv[1:])
        assert_one_line_error(second, EX_TEMPFAIL, "another batch")
    finally:
        first.wait(timeout=120)
    assert first.returncode == 0


def test_batch_builds_indexes_once_and_keeps_them_in_the_index_folder(dossier, mini_map, tmp_path):
    manifest = write_csv(tmp_path / "r.csv", ["request_id", "email"], [["I-1", "anna@example.pl"], ["I-2", "jan@example.pl"]])
    folder = tmp_path / "idx"
    proc = batch(dossier, mini_map, manifest, tmp_path / "out", "--index-dir", folder)
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in folder.iterdir()) == ["contests.index.sqlite", "events.index.sqlite", "lists.index.sqlite"]
    again = run(dossier, "index", "--config", mini_map, "--index-dir", folder)
    assert "index: lists: fresh" in again.stdout and "index: events: fresh" in again.stdout
    assert "index: contests: fresh" in again.stdout
    single = export_bytes(dossier, mini_map, [("email", "anna@example.pl")], "I-1", tmp_path / "single")
    assert (tmp_path / "out" / "dossier-I-1.zip").read_bytes() == single


def test_progress_lines_on_a_pipe(dossier, tmp_path):
    manifest = write_csv(tmp_path / "r.csv", ["request_id", "email"], [[f"P-{i}", e] for i, e in enumerate(sample_emails(4))])
    proc = batch(dossier, SAMPLES_MAP, manifest, tmp_path / "out")
    assert proc.returncode == 0
    assert "progress: 4/4 (4 done, 0 failed, 0 skipped)" in proc.stderr
    assert "report: " + str(tmp_path / "out" / "report.jsonl") in proc.stdout
