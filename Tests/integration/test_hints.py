"""What the officer sees (issue 12, items 3 and 4): every command the CLI prints as a next step works
when pasted as printed (each one is run, in the same folder, with nothing added), and deadlines are
not silent: an overdue or nearly due request is warned about on `open`, `show` and `list` (stderr and
`--json`), a first copy delivered after the deadline is recorded as late (history and audit trail)
and said so, an export that found nobody says so in one line, a part larger than --split-size is
warned about, and a file that cannot be read says why (items 5 and 7)."""
from __future__ import annotations

import datetime as dt
import json
import os
import re
import shlex
import subprocess

import pytest

from conftest import assert_one_line_error, run
from ledger_helpers import Ledger, expected_deadline, make_samples_copy, samples_ledger

EX_OK, EX_REFUSED = 0, 65
ZOFIA = "zofia.wisniewska@example.pl"
# A printed command: after "next: ", "run: ", "list them: ", "build it: " and the like.
HINT = re.compile(r"(?:^|: )(dossier [a-z].*)$")


@pytest.fixture(params=["sqlite", "postgres"])
def ledger(request, dossier, tmp_path) -> Ledger:
    return samples_ledger(request, dossier, tmp_path / "samples")


def hints(proc: subprocess.CompletedProcess) -> list[str]:
    """Every command the run printed for the user to run next, stdout and stderr."""
    found = []
    for line in (proc.stdout + proc.stderr).splitlines():
        m = HINT.search(line)
        if m:
            found.append(m.group(1))
    return found


def paste(ledger: Ledger, command: str) -> subprocess.CompletedProcess:
    """The command as a user pastes it into a shell in the folder they ran the first one in."""
    words = shlex.split(command)
    assert words[0] == "dossier", command
    return subprocess.run([ledger.dossier, *words[1:]], cwd=ledger.root, capture_output=True, text=True,
                          timeout=300, env=ledger.env())


def the_hint(proc: subprocess.CompletedProcess) -> str:
    found = hints(proc)
    assert len(found) == 1, f"expected one printed command, found {found}: {proc.stdout}{proc.stderr}"
    return found[0]


def days_between(a: str, b: str) -> int:
    return (dt.date.fromisoformat(b) - dt.date.fromisoformat(a)).days


def test_an_overdue_request_is_warned_about_then_every_hint_pasted_works_and_the_late_copy_is_recorded(ledger):
    received, today = "2026-01-31", "2026-12-01"
    deadline = expected_deadline(received)                       # 2026-03-02: 28 Feb is a Saturday
    late = days_between(deadline, today)

    # Opened nine months late: said on the spot.
    rid, proc = ledger.open([("email", ZOFIA)], received, today=today)
    assert f"warning: {rid} is overdue: the answer was due on {deadline}, {late} day(s) ago" in proc.stderr, proc.stderr

    # show: on stderr and in --json
    proc = ledger.request("show", rid, "--json", "--today", today)
    assert proc.returncode == EX_OK and f"warning: {rid} is overdue" in proc.stderr
    assert json.loads(proc.stdout)["timeliness"] == {
        "state": "overdue", "days": late, "warning": f"{rid} is overdue: the answer was due on {deadline}, {late} day(s) ago (Art. 12(3))"}

    # Not verified: the refusal names the next step, which works when pasted (it records a verification).
    proc = ledger.request("fulfil", rid, "--today", today)
    assert_one_line_error(proc, EX_REFUSED, "is not verified", "next: dossier request verify")
    step = the_hint(proc)
    assert f"--config {ledger.map}" in step and f"--today {today}" in step
    assert (("--ledger " + str(ledger.path)) in step) == (ledger.backend == "sqlite"), "a PostgreSQL URL is never repeated"
    pasted = paste(ledger, step)
    assert pasted.returncode == EX_OK, pasted.stderr
    assert ledger.show(rid)["verification"]["by"] == "NAME"

    # A further copy before the first: the next step is the first copy.
    proc = ledger.request("copy", rid, "--today", today)
    assert_one_line_error(proc, EX_REFUSED, "has no first copy yet", "next: dossier request fulfil")
    pasted = paste(ledger, the_hint(proc))
    assert pasted.returncode == EX_OK, pasted.stderr
    assert f"warning: {rid} was answered late: copy 1 went out {late} day(s) after the deadline {deadline}" in pasted.stderr

    # Recorded as late: the history, the audit trail, and show's timeliness.
    shown = ledger.show(rid)
    assert any(h["note"].endswith(f"{late} day(s) after the deadline {deadline}") for h in shown["history"]), shown["history"]
    delivered = [r for r in map(json.loads, ledger.audit("export").stdout.splitlines())
                 if r["request_id"] == rid and r["action"] == "delivered"]
    assert len(delivered) == 1, delivered
    assert (delivered[0]["detail"]["late_days"], delivered[0]["detail"]["deadline"]) == (str(late), deadline), delivered
    assert shown["timeliness"]["state"] == "answered_late" and shown["timeliness"]["days"] == late
    assert ledger.audit("verify").returncode == EX_OK

    # Fulfilled already: the next step quotes a further copy; its own hint produces it.
    proc = ledger.request("fulfil", rid, "--today", today)
    assert_one_line_error(proc, EX_REFUSED, "already fulfilled", "next: dossier request copy")
    quote = paste(ledger, the_hint(proc))
    assert quote.returncode == EX_OK and "nothing was produced" in quote.stdout, quote.stdout + quote.stderr
    accepted = paste(ledger, the_hint(quote))
    assert accepted.returncode == EX_OK, accepted.stderr
    assert "answered late" not in accepted.stderr, "only copy 1 has a deadline"
    assert [d["copy"] for d in ledger.show(rid)["deliveries"]] == [1, 2]


def test_list_warns_about_overdue_and_nearly_due_requests_with_a_command_that_lists_them(ledger):
    today = "2026-12-06"
    overdue, _ = ledger.open([("email", ZOFIA)], "2026-10-01", today=today)
    soon, proc = ledger.open([("email", "anna.kowalska@example.com")], "2026-11-09", today=today)
    soon_deadline = expected_deadline("2026-11-09")                 # 2026-12-09: in 3 days
    assert f"warning: {soon} is due in {days_between(today, soon_deadline)} days ({soon_deadline})" in proc.stderr, proc.stderr
    later, proc = ledger.open([("email", "jan@example.com")], today, today=today)
    assert "warning" not in proc.stderr

    proc = ledger.request("list", "--today", today)
    assert proc.returncode == EX_OK
    lines = proc.stdout.splitlines()
    assert lines[0].split() == ["ID", "KIND", "STATUS", "RECEIVED", "DEADLINE", "DUE", "COPIES", "FLAGS"]
    row = {line.split()[0]: line for line in lines[1:]}
    assert f"OVERDUE {days_between(expected_deadline('2026-10-01'), today)}d" in row[overdue]
    assert f"in {days_between(today, soon_deadline)}d" in row[soon]
    warnings = [line for line in proc.stderr.splitlines() if line.startswith("warning: ")]
    assert warnings == [
        f"warning: 1 open request(s) overdue, the oldest due on {expected_deadline('2026-10-01')}; list them: "
        f"dossier request list --overdue{hints_options(ledger, today)}",
        f"warning: 1 open request(s) due within 7 days; list them: dossier request list --due-within 7d{hints_options(ledger, today)}",
    ], proc.stderr
    for step, wanted in zip(hints(proc), (overdue, soon)):
        pasted = paste(ledger, step)
        assert pasted.returncode == EX_OK, pasted.stderr
        assert [line.split()[0] for line in pasted.stdout.splitlines()[1:]] == [wanted]

    states = {r["id"]: r["timeliness"]["state"] for r in ledger.list("--today", today)}
    assert states == {overdue: "overdue", soon: "due_soon", later: "on_time"}


def hints_options(ledger: Ledger, today: str) -> str:
    s = f" --config {ledger.map}"
    if ledger.backend == "sqlite":
        s += f" --ledger {ledger.path}"
    return s + f" --today {today}"


def test_import_says_how_many_opened_requests_are_overdue(ledger, tmp_path):
    manifest = tmp_path / "requests.csv"
    manifest.write_text("request_id,email,received\nT-1,a@example.com,2026-01-05\nT-2,b@example.com,2026-12-01\n"
                        "T-3,c@example.com,2026-02-10\n", encoding="utf-8")
    proc = ledger.request("import", manifest, "--today", "2026-12-06")
    assert proc.returncode == EX_OK, proc.stderr
    step = the_hint(proc)
    assert "warning: 2 of the requests opened are overdue already; list them: dossier request list --overdue" in proc.stderr
    pasted = paste(ledger, step)
    assert pasted.returncode == EX_OK and len(pasted.stdout.splitlines()) == 3, pasted.stdout


def test_review_hints_work_when_pasted(dossier, tmp_path):
    ledger = Ledger(dossier, make_samples_copy(tmp_path / "samples", settings=("require_review: true",)))
    today = "2026-11-21"
    rid, _ = ledger.open([("email", ZOFIA)], "2026-11-20", today=today)
    ledger.verify(rid, today)
    proc = ledger.request("fulfil", rid, "--today", today)
    assert_one_line_error(proc, EX_REFUSED, "has not been approved for release", "next: dossier request review")
    reviewed = paste(ledger, the_hint(proc))
    assert reviewed.returncode == EX_OK, reviewed.stderr
    approved = paste(ledger, the_hint(reviewed))
    assert approved.returncode == EX_OK, approved.stderr
    assert ledger.show(rid)["review"]["approved_by"] == "NAME"
    ledger.fulfil(rid, today)


def test_validate_names_the_command_that_builds_a_missing_index(dossier, samples_map, tmp_path):
    folder = tmp_path / "indexes"
    proc = run(dossier, "validate", "--config", samples_map, "--index-dir", folder, cwd=tmp_path)
    assert proc.returncode == EX_OK, proc.stderr
    steps = hints(proc)
    assert steps and all(s == f"dossier index --config {samples_map} --index-dir {folder}" for s in steps), proc.stdout
    built = subprocess.run([dossier, *shlex.split(steps[0])[1:]], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert built.returncode == EX_OK, built.stderr
    again = run(dossier, "validate", "--config", samples_map, "--index-dir", folder, cwd=tmp_path)
    assert again.returncode == EX_OK and hints(again) == [], again.stdout


def test_an_export_that_found_nobody_says_so(dossier, samples_map, tmp_path):
    proc = run(dossier, "export", "--config", samples_map, "--email", "nobody.at.all@example.org", "--out", tmp_path / "out")
    assert proc.returncode == EX_OK, proc.stderr
    assert proc.stderr.splitlines() == [
        "note: no record of this person was found in any of the 15 datasets; the archive says so to the person"]
    assert len(proc.stdout.splitlines()) == 1 and proc.stdout.strip().endswith(".zip")
    found = run(dossier, "export", "--config", samples_map, "--email", ZOFIA, "--out", tmp_path / "out2")
    assert found.returncode == EX_OK and "note:" not in found.stderr, found.stderr


def test_a_batch_on_the_ledger_names_the_command_that_verifies_its_manifest(dossier, tmp_path):
    ledger = Ledger(dossier, make_samples_copy(tmp_path / "samples"))
    manifest = tmp_path / "customers.csv"
    manifest.write_text("request_id,email\nC-1,zofia.wisniewska@example.pl\nC-2,jan@example.com\n", encoding="utf-8")
    first = ledger.run("batch", "--requests", manifest, "--today", "2026-12-01")
    assert first.returncode == EX_REFUSED, first.stderr
    again = paste(ledger, the_hint(first))
    assert again.returncode == EX_OK, again.stdout + again.stderr
    assert [line for line in again.stdout.splitlines() if line.startswith("batch: ")][0].startswith("batch: 2 requests: 2 done")
    assert all(r["verification"]["by"] == "NAME" for r in ledger.list())


def test_split_size_warns_about_each_part_it_cannot_keep_within_the_limit(dossier, samples_map, tmp_path):
    proc = run(dossier, "export", "--config", samples_map, "--email", ZOFIA, "--out", tmp_path / "out",
               "--split-size", "20K", "--request-id", "SPLIT-1")
    assert proc.returncode == EX_OK, proc.stderr
    parts = [p for p in proc.stdout.splitlines() if p.strip()]
    sizes = [os.path.getsize(p) for p in parts]
    assert len(parts) >= 2 and sizes[0] > 20 * 1024, sizes
    expected = []
    for i, size in enumerate(sizes):
        if size > 20 * 1024:
            why = ("it holds the bundle's description (manifest.json, information.json, index.html, SHA256SUMS), which stays in one part"
                   if i == 0 else "it holds one file larger than the limit, and a file is never cut")
            expected.append(f"warning: part {i + 1} of {len(parts)} is {size} bytes, more than --split-size 20K: {why}")
    assert proc.stderr.splitlines() == expected
    roomy = run(dossier, "export", "--config", samples_map, "--email", ZOFIA, "--out", tmp_path / "roomy",
                "--split-size", "10M", "--request-id", "SPLIT-2")
    assert roomy.returncode == EX_OK and roomy.stderr == "", roomy.stderr


@pytest.mark.parametrize("what", ["missing", "folder"])
def test_a_file_that_cannot_be_read_says_why(dossier, samples_map, tmp_path, what):
    path = tmp_path / "given"
    if what == "folder":
        path.mkdir()
    why = {"missing": "there is no such file", "folder": "it is a folder, not a file"}[what]
    assert_one_line_error(run(dossier, "validate", "--config", path), 64, f"{path}: cannot read the data map: {why}")
    assert_one_line_error(run(dossier, "batch", "--config", samples_map, "--requests", path, "--out", tmp_path / "out"), 64,
                          f"{path}: cannot read the manifest of requests: {why}")
    assert_one_line_error(run(dossier, "export", "--config", samples_map, "--email", ZOFIA, "--passphrase-file", path,
                              "--out", tmp_path / "out"), 64, f"{path}: cannot read the passphrase file: {why}")


def test_a_batch_on_the_ledger_says_which_copies_went_out_late(dossier, tmp_path):
    ledger = Ledger(dossier, make_samples_copy(tmp_path / "samples"))
    manifest = tmp_path / "customers.csv"
    manifest.write_text("request_id,email,received\nL-1,zofia.wisniewska@example.pl,2026-01-05\n"
                        "L-2,jan@example.com,2026-11-30\n", encoding="utf-8")
    proc = ledger.run("batch", "--requests", manifest, "--today", "2026-12-01", "--method", "customer list", "--by", "DPO")
    assert proc.returncode == EX_OK, proc.stdout + proc.stderr
    late = days_between(expected_deadline("2026-01-05"), "2026-12-01")
    assert "warning: 1 of the copies delivered went out after their deadline (recorded as late)" in proc.stderr
    states = {r["reference"]: r["timeliness"] for r in ledger.list("--today", "2026-12-01")}
    assert states["L-1"]["state"] == "answered_late" and states["L-1"]["days"] == late, states
    assert states["L-2"]["state"] == "answered", states
