"""Review before release (issue 10, item 4), on both ledger backends: with `ledger.require_review: true`
nothing leaves before `request review` has built the bundle into a private folder and `request approve`
has recorded who released it; data that changed since the review must be reviewed again; run-due,
workers and batches leave unapproved requests alone; review and approval are in the audit chain.
`dossier export --dry-run` prints the same findings and writes nothing."""
from __future__ import annotations

import json
import re
import sqlite3
import stat

import pytest

from conftest import assert_one_line_error, run
from ledger_helpers import Ledger, make_samples_copy, samples_ledger

EX_REFUSED = 65
ZOFIA = "zofia.wisniewska@example.pl"


@pytest.fixture(params=["sqlite", "postgres"])
def reviewed_ledger(request, dossier, tmp_path) -> Ledger:
    return samples_ledger(request, dossier, tmp_path / "samples", settings=("require_review: true",))


def opened(ledger: Ledger) -> str:
    rid, _ = ledger.open([("email", ZOFIA)], "2026-11-20")
    ledger.verify(rid, "2026-11-21")
    return rid


def audit_actions(ledger: Ledger, rid: str) -> list[dict]:
    proc = ledger.audit("export")
    assert proc.returncode == 0, proc.stderr
    return [row for row in map(json.loads, proc.stdout.splitlines()) if row["request_id"] == rid]


def test_nothing_leaves_before_review_and_approval(reviewed_ledger):
    ledger = reviewed_ledger
    rid = opened(ledger)
    assert_one_line_error(ledger.request("fulfil", rid, "--today", "2026-11-22"), EX_REFUSED,
                          f"request {rid} has not been approved for release", "requires a review")
    assert_one_line_error(ledger.request("approve", rid, "--by", "A. Nowak (DPO)", "--today", "2026-11-22"), EX_REFUSED,
                          f"request {rid} has not been reviewed")

    proc = ledger.request("review", rid, "--today", "2026-11-22")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == f"review: {rid}: 39 records in 15 of 15 datasets"
    # every dataset with its count and the identifiers that found it
    assert "  crm/contacts: 1 record, found by crm_id 17 (1), email zofia.wisniewska@example.pl (1), phone +48221228617 (1)" in lines
    assert "  contests/entries: 2 records, found by email zosia.w@example.com (1), phone +48221228617 (1)" in lines
    folder = ledger.archives / "review" / rid
    assert f"bundle: {folder} (open index.html)" in lines
    assert lines[-1] == f"next: dossier request approve {rid} --config {ledger.map} --ledger {ledger.location} --today 2026-11-22 --by NAME" \
        if ledger.backend == "sqlite" else lines[-1] == f"next: dossier request approve {rid} --config {ledger.map} --today 2026-11-22 --by NAME"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE((ledger.archives / "review").stat().st_mode) == 0o700
    assert (folder / "index.html").is_file() and (folder / "manifest.json").is_file()
    assert not list(ledger.archives.glob("*.zip")), "a review delivered something"
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert sum(d["count"] for d in manifest["datasets"]) == 39

    proc = ledger.request("approve", rid, "--by", "A. Nowak (DPO)", "--today", "2026-11-22")
    assert proc.returncode == 0 and proc.stdout.strip() == f"approved: {rid}", proc.stderr
    assert_one_line_error(ledger.request("approve", rid, "--by", "B", "--today", "2026-11-22"), EX_REFUSED, "already approved")
    show = ledger.show(rid)
    fingerprint = show["review"]["fingerprint"]
    assert show["review"]["approved_by"] == "A. Nowak (DPO)"
    assert show["review"]["approved_fingerprint"] == fingerprint and re.fullmatch(r"[0-9a-f]{64}", fingerprint)
    archive = ledger.fulfil(rid, "2026-11-23")
    assert archive.is_file()
    assert ledger.show(rid)["deliveries"][0]["fingerprint"] == fingerprint

    actions = [(row["action"], row["detail"]) for row in audit_actions(ledger, rid)]
    assert [a for a, _ in actions] == ["opened", "verified", "reviewed", "approved", "delivered"]
    reviewed, approved = actions[2][1], actions[3][1]
    assert reviewed["records"] == "39" and reviewed["datasets"] == "15" and reviewed["fingerprint"] == fingerprint
    assert approved["by"] == "A. Nowak (DPO)" and approved["fingerprint"] == fingerprint
    assert ledger.audit("verify").returncode == 0


def test_data_changed_since_the_review_must_be_reviewed_again(reviewed_ledger):
    ledger = reviewed_ledger
    rid = opened(ledger)
    assert ledger.request("review", rid, "--today", "2026-11-22").returncode == 0
    assert ledger.request("approve", rid, "--by", "A. Nowak (DPO)", "--today", "2026-11-22").returncode == 0
    conn = sqlite3.connect(ledger.root / "crm" / "crm.sqlite")
    conn.execute("UPDATE contacts SET first_name = 'Zofia Maria' WHERE id = 17")
    conn.commit()
    conn.close()
    assert_one_line_error(ledger.request("fulfil", rid, "--today", "2026-11-23"), EX_REFUSED,
                          f"the data of request {rid} changed since it was reviewed and approved")
    assert ledger.show(rid)["deliveries"] == []
    assert [p.name for p in ledger.archives.iterdir() if p.name != "review"] == [], "a refused copy left a file"
    # a new review of the new data withdraws the approval; approved again, the copy leaves
    proc = ledger.request("review", rid, "--today", "2026-11-23")
    assert proc.returncode == 0 and proc.stdout.splitlines()[-1].startswith("next: dossier request approve"), proc.stdout
    assert ledger.show(rid)["review"]["approved_by"] is None
    assert ledger.request("approve", rid, "--by", "A. Nowak (DPO)", "--today", "2026-11-23").returncode == 0
    ledger.fulfil(rid, "2026-11-23")


def test_run_due_and_workers_leave_unapproved_requests_alone(reviewed_ledger):
    ledger = reviewed_ledger
    waiting = opened(ledger)
    rid, _ = ledger.open([("email", "jan.kowalczyk@example.pl")], "2026-11-20")
    ledger.verify(rid, "2026-11-21")
    assert ledger.request("review", rid, "--today", "2026-11-22").returncode == 0
    assert ledger.request("approve", rid, "--by", "A. Nowak (DPO)", "--today", "2026-11-22").returncode == 0
    proc = ledger.run("run-due", "--today", "2026-11-23")
    assert proc.returncode == 0, proc.stderr
    assert f"delivered: {rid} copy 1" in proc.stdout and waiting not in proc.stdout
    assert ledger.show(waiting)["deliveries"] == []
    proc = ledger.run("worker", "--once", "--today", "2026-11-23")
    assert proc.returncode == 0, proc.stderr
    assert waiting not in proc.stdout
    assert ledger.show(waiting)["deliveries"] == []


def test_without_require_review_nothing_changes(dossier, tmp_path):
    ledger = Ledger(dossier, make_samples_copy(tmp_path / "plain"))
    rid = opened(ledger)
    ledger.fulfil(rid, "2026-11-22")
    # a review is still possible, and recorded
    assert ledger.request("review", rid, "--today", "2026-11-22").returncode == 0
    assert [row["action"] for row in audit_actions(ledger, rid)][-1] == "reviewed"


def test_export_dry_run_writes_nothing(dossier, samples_map, tmp_path):
    out = tmp_path / "out"
    proc = run(dossier, "export", "--config", samples_map, "--email", ZOFIA, "--out", out, "--dry-run")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "dry run: 39 records in 15 of 15 datasets"
    assert "  mailing/subscribers: 1 record, found by email zofia.wisniewska@example.pl (1), phone +48221228617 (1)" in lines
    assert not out.exists()
    proc = run(dossier, "export", "--config", samples_map, "--email", "nobody@example.com", "--out", out, "--dry-run")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0] == "dry run: 0 records in 0 of 15 datasets"
    assert "  crm/contacts: none" in proc.stdout.splitlines()


def test_fields_withheld_at_review_are_withheld_from_the_copy(reviewed_ledger):
    """review --redact: the reviewed bundle and the delivered copy both replace the field with
    "[withheld]" in every format, the manifest lists field and reason, and the copy's data is the
    data approved."""
    import zipfile
    from bundle_helpers import schema_errors, validator
    ledger = reviewed_ledger
    rid = opened(ledger)
    field = "crm/interactions/subject"
    assert_one_line_error(ledger.request("review", rid, "--redact", field, "--today", "2026-11-22"), 64, "--redact needs --reason")
    assert_one_line_error(ledger.request("review", rid, "--redact", "crm/nowhere/note", "--reason", "x", "--today", "2026-11-22"),
                          64, "'crm/nowhere/note' is not")
    reason = "a note about a colleague (Art. 15(4))"
    proc = ledger.request("review", rid, "--redact", field, "--reason", reason, "--today", "2026-11-22")
    assert proc.returncode == 0, proc.stderr
    assert f"withheld: {field} ({reason})" in proc.stdout.splitlines()
    folder = ledger.archives / "review" / rid
    notes = [r.get("subject") for r in json.loads((folder / "data" / "crm" / "interactions.json").read_text())["records"]]
    assert notes and all(n in (None, "[withheld]") for n in notes) and "[withheld]" in notes
    assert "[withheld]" in (folder / "data" / "crm" / "interactions.csv").read_text(encoding="utf-8")
    assert ">[withheld]<" in (folder / "data" / "crm" / "interactions.xml").read_text(encoding="utf-8")
    assert ledger.request("approve", rid, "--by", "A. Nowak (DPO)", "--today", "2026-11-22").returncode == 0
    archive = ledger.fulfil(rid, "2026-11-23")
    with zipfile.ZipFile(archive) as z:
        manifest = json.loads(z.read("manifest.json"))
        delivered = [r.get("subject") for r in json.loads(z.read("data/crm/interactions.json"))["records"]]
    assert delivered == notes
    assert manifest["withheld_at_review"] == {"fields": [field], "reason": reason, "marker": "[withheld]"}
    assert schema_errors(validator("manifest"), manifest) == []
    assert ledger.show(rid)["deliveries"][0]["fingerprint"] == ledger.show(rid)["review"]["approved_fingerprint"]
    reviewed = [row for row in audit_actions(ledger, rid) if row["action"] == "reviewed"][-1]
    assert reviewed["detail"]["withheld"] == field and reviewed["detail"]["reason"] == reason
    # a review without the redaction is other data: the approval no longer stands
    assert ledger.request("review", rid, "--today", "2026-11-24").returncode == 0
    assert ledger.show(rid)["review"]["approved_by"] is None
