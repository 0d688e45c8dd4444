"""End-to-end tests of the `dossier` binary against the contract and the independent oracle.

Run from the repository root:  python -m pytest Tests/integration
The binary comes from $DOSSIER (default .build/debug/dossier); Samples/crm/crm.sqlite must have been
built with `python3 Samples/build.py` (the Makefile does both).
"""

from __future__ import annotations

import csv
import io
import json
import re
import sqlite3
import stat
import subprocess
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest
import yaml

import oracle
from conftest import (
    AS_OF, CHINOOK, EX_CANTCREAT, EX_NOINPUT, EX_USAGE, MINI_CSV, MINI_JSONL, MINI_MAP, MINI_XML, REPO,
    SAMPLES_MAP, WITHHELD, assert_one_line_error, build_mini, check_bundle, data_files, export, read_archive,
    run,
)

ZOFIA = "zofia.wisniewska@example.pl"
ZOFIA_PHONE = "0048 22 122-86-17"
NAMESAKE_EMAIL = "zofia.wisniewska@example.org"   # contact 117, another person
NAMESAKE_ID = 117
REFERRER_ID = 18                                   # the contact who referred Zofia
REQ = "REQ-2026-0042"


ZOFIA_COUNTS = {
    ("crm", "contacts"): 1, ("crm", "contact_emails"): 2, ("crm", "applications"): 2, ("crm", "referrals"): 1,
    ("crm", "consents"): 5, ("crm", "interactions"): 6, ("crm", "profiling_segments"): 1,
    ("mailing", "subscribers"): 1,
    ("training", "enrolments"): 3, ("training", "attendance"): 5, ("training", "certificates"): 2,
    ("training", "invoices"): 2, ("training", "invoice_lines"): 5,
    ("contests", "entries"): 2, ("contests", "winners"): 1,
}


def exported_records(entries) -> dict:
    """(source, dataset) -> the records of its JSON file."""
    return {sd: json.loads(f["json"])["records"] for sd, f in data_files(entries).items()}


# =========================================================================== the bundled samples

@pytest.fixture(scope="module")
def zofia(dossier, samples_map, tmp_path_factory):
    """One export of the sample person by e-mail, shared by the checks below."""
    out = tmp_path_factory.mktemp("zofia")
    archive = export(dossier, samples_map, [("email", ZOFIA)], out, request_id=REQ)
    expected = oracle.resolve(str(samples_map), [("email", ZOFIA)])
    return archive, read_archive(archive), expected, out


def test_samples_validate(dossier, samples_map):
    proc = run(dossier, "validate", "--config", samples_map)
    assert proc.returncode == 0, proc.stderr


def test_zofia_archive_file(zofia):
    archive, _, _, out = zofia
    assert archive.parent == out
    assert archive.name == f"dossier-{REQ}.zip"
    assert REQ in archive.name
    for part in ("zofia", "wisniewska", "example.pl", "@"):
        assert part not in archive.name.lower()
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600
    # nothing but the archive is left in the output folder (no temporary file)
    assert sorted(p.name for p in out.iterdir()) == [archive.name]


def test_zofia_archive_opens_with_every_tool(zofia):
    archive, entries, _, _ = zofia
    proc = subprocess.run(["unzip", "-t", str(archive)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "No errors detected" in proc.stdout
    proc = subprocess.run(["bsdtar", "-tf", str(archive)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    listed = {line for line in proc.stdout.splitlines() if line and not line.endswith("/")}
    assert listed == set(entries)
    with zipfile.ZipFile(archive) as z:
        assert z.testzip() is None
        assert {i.filename for i in z.infolist() if not i.is_dir()} == set(entries)


def test_zofia_bundle_matches_contract_and_oracle(zofia, samples_map, tmp_path):
    _, entries, expected, _ = zofia
    assert expected.nonempty(), "the oracle found nothing for the sample person"
    check_bundle(entries, samples_map, expected, REQ, tmp_path, given=[("email", ZOFIA)])


def test_zofia_counts(zofia):
    """The oracle's counts, checked by hand against the sample files (sqlite3 and grep)."""
    _, entries, expected, _ = zofia
    assert expected.counts() == ZOFIA_COUNTS
    assert (expected.rounds, expected.capped) == (4, False)
    manifest = json.loads(entries["manifest.json"])
    assert {(x["source"], x["dataset"]): x["count"] for x in manifest["datasets"]} == ZOFIA_COUNTS


def test_zofia_namesake_absent(zofia):
    """Contact 117 has the same name and an e-mail that differs only in the domain."""
    _, entries, expected, _ = zofia
    for name, body in entries.items():
        assert NAMESAKE_EMAIL.encode() not in body.lower(), f"the namesake's e-mail is in {name}"
        assert b"FV/2024/0517" not in body, f"the namesake's invoice is in {name}"
        assert b"601-200-300" not in body and b"+48 601 200 300" not in body, f"the namesake's phone is in {name}"
    records = exported_records(entries)
    assert NAMESAKE_ID not in {r["id"] for r in records[("crm", "contacts")]}
    for sd, recs in records.items():
        for r in recs:
            assert r.get("contact_id") not in (NAMESAKE_ID, str(NAMESAKE_ID)), f"{sd}: a record of contact 117"


def test_zofia_referrer_withheld(zofia):
    """Contact 18 (Tomasz Nowicki) recommended her: his fields are withheld, his own row is absent."""
    _, entries, expected, _ = zofia
    records = exported_records(entries)
    assert REFERRER_ID not in {r["id"] for r in records[("crm", "contacts")]}
    referrals = records[("crm", "referrals")]
    assert len(referrals) == 1
    ref = referrals[0]
    assert ref["candidate_contact_id"] == 17
    assert ref["relationship"] == "były współpracownik"
    for f in ("referrer_contact_id", "referrer_name", "referrer_email", "referrer_phone"):
        assert ref[f] == WITHHELD, f"{f} = {ref[f]!r}"
    files = data_files(entries)
    csv_rows = list(csv.DictReader(io.StringIO(files[("crm", "referrals")]["csv"].decode("utf-8-sig"), newline="")))
    assert [row["referrer_name"] for row in csv_rows] == [WITHHELD]
    root = ET.fromstring(files[("crm", "referrals")]["xml"])
    xml_values = {f.get("name"): f.text for f in root.find("record")}
    assert all(xml_values[f] == WITHHELD for f in ("referrer_contact_id", "referrer_name", "referrer_email",
                                                   "referrer_phone"))
    for name, body in entries.items():
        for secret in (b"Tomasz", b"Nowicki", b"tomasz.nowicki@example.pl", b"502 118 443", b"502118443"):
            assert secret not in body, f"the referrer's {secret!r} is in {name}"


def test_zofia_third_party_fields_withheld_everywhere(zofia, samples_map):
    """Map-driven: every field marked third_party holds the marker (or null) in every dataset."""
    _, entries, expected, _ = zofia
    dmap = oracle.load_map(str(samples_map))
    records = exported_records(entries)
    withheld = 0
    for s, d, _, ds in oracle.datasets(dmap):
        tp = [p for p, f in (ds.get("fields") or {}).items() if oracle.is_true((f or {}).get("third_party"))]
        for r in records.get((s, d), []):
            for p in tp:
                v = oracle.get_path(r, p)
                assert v in (None, oracle._MISSING, WITHHELD), f"{s}/{d} {p} = {v!r} is not withheld"
                withheld += v == WITHHELD
    assert withheld == 4


def test_zofia_reached_through_secondary_identifiers(zofia):
    """Records reachable only through another e-mail of hers, a phone in another format, a contest
    entry id, or invoice ids."""
    _, entries, expected, _ = zofia
    records = exported_records(entries)
    entries_by_id = {r["id"]: r for r in records[("contests", "entries")]}
    # E-0019 names only zosia.w@example.com, an address from crm/contact_emails
    assert entries_by_id["E-0019"]["email"] == "zosia.w@example.com"
    assert entries_by_id["E-0019"]["address"] == {"street": "ul. Grochowska 112 m. 5", "postcode": "04-301",
                                                  "city": "Warszawa"}
    # E-0067 names only the phone 221228617 (her +48 22 122 86 17 without the country code)
    assert entries_by_id["E-0067"]["phone"] == "221228617"
    assert entries_by_id["E-0067"]["answer"] == ["B", "A", "D", "C"]
    assert set(entries_by_id) == {"E-0019", "E-0067"}
    # the prize of E-0019, found through the entry id
    assert [(w["entry"], w["place"]) for w in records[("contests", "winners")]] == [("E-0019", "1")]
    # invoice lines carry no contact id: found through the invoice numbers of her enrolments and invoices
    lines = [(x["invoice"], x["line"]) for x in records[("training", "invoice_lines")]]
    assert lines == [("FV/2023/0412", 1), ("FV/2023/0412", 2),
                     ("FV/2024/0088", 1), ("FV/2024/0088", 2), ("FV/2024/0088", 3)]
    # the certificates store contact_id as text ("17"), the enrolments as a number (17)
    assert {c["contact_id"] for c in records[("training", "certificates")]} == {"17"}
    assert {c["contact_id"] for c in records[("training", "enrolments")]} == {17}
    # the newsletter row, written " Zofia.Wisniewska@Example.PL " with a formula in NOTES
    sub = records[("mailing", "subscribers")]
    assert [r["Email Address"] for r in sub] == [" Zofia.Wisniewska@Example.PL "]
    csv_text = data_files(entries)[("mailing", "subscribers")]["csv"].decode("utf-8-sig")
    assert "'=HYPERLINK(" in csv_text
    assert "\n=HYPERLINK(" not in csv_text and ",=HYPERLINK(" not in csv_text and ',"=HYPERLINK(' not in csv_text
    # the identifiers the resolution followed
    assert set(expected.identifiers) == {
        ("email", "zofia.wisniewska@example.pl"), ("crm_id", "17"), ("phone", "+48221228617"),
        ("email", "zosia.w@example.com"), ("email", "z.wisniewska@kadry-plus.example.pl"),
        ("invoice_id", "FV/2023/0412"), ("invoice_id", "FV/2024/0088"),
        ("contest_entry", "E-0067"), ("contest_entry", "E-0019")}
    manifest = json.loads(entries["manifest.json"])
    matched = {(i["kind"], i["value"]) for i in manifest["identifiers"]["matched"]}
    assert {("email", "zosia.w@example.com"), ("phone", "+48221228617"), ("invoice_id", "FV/2024/0088"),
            ("contest_entry", "E-0019")} <= matched


def test_zofia_by_phone_gives_the_same_records(dossier, samples_map, zofia, tmp_path):
    _, by_email, expected_email, _ = zofia
    out = tmp_path / "out"
    out.mkdir()
    archive = export(dossier, samples_map, [("phone", ZOFIA_PHONE)], out, request_id=REQ)
    entries = read_archive(archive)
    expected = oracle.resolve(str(samples_map), [("phone", ZOFIA_PHONE)])
    check_bundle(entries, samples_map, expected, REQ, tmp_path, given=[("phone", ZOFIA_PHONE)])
    a = {sd: oracle.canonical(json.loads(f["json"])["records"]) for sd, f in data_files(entries).items()}
    b = {sd: oracle.canonical(json.loads(f["json"])["records"]) for sd, f in data_files(by_email).items()}
    assert a == b
    assert json.loads(entries["information.json"]) == json.loads(by_email["information.json"])


def test_tar_gz_has_the_same_entries(dossier, samples_map, zofia, tmp_path):
    _, zip_entries, expected, _ = zofia
    out = tmp_path / "out"
    out.mkdir()
    archive = export(dossier, samples_map, [("email", ZOFIA)], out, fmt="tar.gz", request_id=REQ)
    assert archive.name == f"dossier-{REQ}.tar.gz"
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600
    proc = subprocess.run(["bsdtar", "-tzf", str(archive)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    listed = {line.rstrip("/") for line in proc.stdout.splitlines() if line}
    files = {n for n in listed if not n.endswith("/")}
    assert set(zip_entries) <= listed
    dirs = {n for n in listed - set(zip_entries)}
    assert all(any(f.startswith(d + "/") for f in zip_entries) for d in dirs), f"extra entries {dirs}"
    assert len(files) >= len(zip_entries)
    dest = tmp_path / "x"
    dest.mkdir()
    proc = subprocess.run(["tar", "-xzf", str(archive), "-C", str(dest)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    extracted = {str(p.relative_to(dest)): p.read_bytes() for p in dest.rglob("*") if p.is_file()}
    assert set(extracted) == set(zip_entries)
    for name, body in zip_entries.items():
        if name != "manifest.json":
            assert extracted[name] == body, f"{name} differs between the zip and the tar.gz"
    check_bundle(read_archive(archive), samples_map, expected, REQ, tmp_path, given=[("email", ZOFIA)])


def test_nobody_gets_a_bundle_that_says_so(dossier, samples_map, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    archive = export(dossier, samples_map, [("email", "nobody@example.net")], out, request_id="REQ-NOBODY")
    entries = read_archive(archive)
    assert not [n for n in entries if n.startswith("data/")]
    manifest = json.loads(entries["manifest.json"])
    information = json.loads(entries["information.json"])
    assert manifest["has_data"] is False
    assert information["has_data"] is False
    dmap = oracle.load_map(str(samples_map))
    all_ds = {(s, d) for s, d, _, _ in oracle.datasets(dmap)}
    assert {(x["source"], x["dataset"]) for x in manifest["datasets"]} == all_ds
    assert all(x["count"] == 0 and x["files"] == [] for x in manifest["datasets"])
    assert manifest["matches"] == []
    assert manifest["identifiers"]["matched"] == []
    assert information["purposes"] == [] and information["recipients"] == []
    expected = oracle.resolve(str(samples_map), [("email", "nobody@example.net")])
    assert not expected.nonempty()
    check_bundle(entries, samples_map, expected, "REQ-NOBODY", tmp_path, given=[("email", "nobody@example.net")])


def test_same_request_gives_identical_archives(dossier, samples_map, tmp_path):
    paths = []
    for i in (1, 2):
        out = tmp_path / f"out{i}"
        out.mkdir()
        paths.append(export(dossier, samples_map, [("email", ZOFIA)], out, request_id="REQ-DET", as_of=AS_OF))
    a, b = (p.read_bytes() for p in paths)
    assert len(a) > 0
    assert a == b, "two runs with the same request id and as-of time gave different archives"
    manifest = json.loads(read_archive(paths[0])["manifest.json"])
    assert manifest["generated_at"].replace("+00:00", "Z") == AS_OF


def test_the_map_is_the_one_the_parsed_config_names(dossier, samples_map, tmp_path):
    """The map named by --config is loaded while the arguments are parsed; the export uses it only
    when it is the map the parser settles on, however the option is written or repeated."""
    def run_export(*config_args, out_name):
        out = tmp_path / out_name
        out.mkdir()
        return run(dossier, "export", *config_args, "--email", ZOFIA, "--out", out,
                   "--request-id", "REQ-MAP", "--as-of", AS_OF), out

    proc, out = run_export("--config", samples_map, out_name="spaced")
    assert proc.returncode == 0, proc.stderr
    reference = (out / "dossier-REQ-MAP.zip").read_bytes()
    proc, out = run_export(f"--config={samples_map}", out_name="equals")
    assert proc.returncode == 0, proc.stderr
    assert (out / "dossier-REQ-MAP.zip").read_bytes() == reference
    # Given twice, the last --config is the map (as swift-argument-parser reads a repeated option),
    # not the first one, which is the one looked at before parsing.
    broken = tmp_path / "broken.yaml"
    broken.write_text("controller: [not, a, map\n", encoding="utf-8")
    proc, out = run_export("--config", broken, "--config", samples_map, out_name="last-good")
    assert proc.returncode == 0, proc.stderr
    assert (out / "dossier-REQ-MAP.zip").read_bytes() == reference
    proc, out = run_export("--config", samples_map, "--config", broken, out_name="last-broken")
    assert_one_line_error(proc, EX_USAGE, "broken.yaml")
    assert list(out.iterdir()) == []


def test_as_of_forms(dossier, samples_map, tmp_path):
    """--as-of: the whole-second UTC form, read by hand, and an offset, read by Foundation, name the
    same time; a text that is not such a time is a usage error."""
    generated = {}
    for name, text in (("utc", "2026-01-31T09:00:00Z"), ("offset", "2026-01-31T10:00:00+01:00")):
        out = tmp_path / name
        out.mkdir()
        archive = export(dossier, samples_map, [("email", ZOFIA)], out, request_id="REQ-ASOF", as_of=text)
        generated[name] = json.loads(read_archive(archive)["manifest.json"])["generated_at"].replace("+00:00", "Z")
    assert generated == {"utc": "2026-01-31T09:00:00Z", "offset": "2026-01-31T09:00:00Z"}
    for bad in ("2026-13-01T09:00:00Z", "2026-01-31 09:00:00Z", "2026-01-31T09:00Z", "31.01.2026"):
        out = tmp_path / "bad"
        out.mkdir(exist_ok=True)
        proc = run(dossier, "export", "--config", samples_map, "--email", ZOFIA, "--out", out, "--as-of", bad)
        assert_one_line_error(proc, EX_USAGE, "--as-of")
        assert list(out.iterdir()) == []


def test_default_request_id_names_the_archive(dossier, samples_map, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    archive = export(dossier, samples_map, [("email", ZOFIA)], out, request_id=None, as_of=None)
    manifest = json.loads(read_archive(archive)["manifest.json"])
    assert manifest["request_id"]
    assert archive.name == f"dossier-{manifest['request_id']}.zip"
    # export-<the run's time, UTC, ISO 8601 basic format>-<8 hex digits>
    m = re.fullmatch(r"export-(\d{8}T\d{6}Z)-[0-9a-f]{8}", manifest["request_id"])
    assert m, manifest["request_id"]
    generated = manifest["generated_at"].replace("+00:00", "Z").replace("-", "").replace(":", "")
    assert m.group(1) == generated, (m.group(1), manifest["generated_at"])
    assert "zofia" not in archive.name.lower()


# =========================================================================== Chinook: a map nobody designed

# every 7th customer, plus the first and the last (59 has fewer invoice lines), by e-mail;
# two more by phone in a format other than the stored one
CHINOOK_BY_EMAIL = [1, 7, 14, 21, 28, 35, 42, 49, 56, 59]
CHINOOK_BY_PHONE = {2: "+49 711 2842222",      # stored as +49 0711 2842222
                    3: "(514) 721-4711"}       # stored as +1 (514) 721-4711, default region US


def chinook_customer(chinook_map: Path, customer_id: int) -> dict:
    conn = sqlite3.connect(f"file:{chinook_map.parent / 'chinook.sqlite'}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    try:
        row = dict(conn.execute("SELECT * FROM Customer WHERE CustomerId = ?", (customer_id,)).fetchone())
        row["invoices"] = [r[0] for r in conn.execute(
            "SELECT InvoiceId FROM Invoice WHERE CustomerId = ? ORDER BY InvoiceId", (customer_id,))]
        row["lines"] = [r[0] for r in conn.execute(
            "SELECT il.InvoiceLineId FROM InvoiceLine il JOIN Invoice i ON i.InvoiceId = il.InvoiceId "
            "WHERE i.CustomerId = ? ORDER BY il.InvoiceLineId", (customer_id,))]
        row["others"] = [dict(r) for r in conn.execute(
            "SELECT Email, Phone, Address FROM Customer WHERE CustomerId <> ?", (customer_id,))]
    finally:
        conn.close()
    return row


def check_chinook_export(dossier, chinook_map, customer_id, kind, value, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    request_id = f"CHINOOK-{customer_id}"
    archive = export(dossier, chinook_map, [(kind, value)], out, request_id=request_id)
    entries = read_archive(archive)
    expected = oracle.resolve(str(chinook_map), [(kind, value)])
    records = check_bundle(entries, chinook_map, expected, request_id, tmp_path, given=[(kind, value)])

    # independent of the oracle: straight from the database
    truth = chinook_customer(chinook_map, customer_id)
    customers = records[("store", "customers")]
    assert [c["CustomerId"] for c in customers] == [customer_id]
    assert customers[0]["Email"] == truth["Email"]
    assert customers[0]["SupportRepId"] == WITHHELD
    assert [i["InvoiceId"] for i in records[("store", "invoices")]] == truth["invoices"]
    assert all(i["CustomerId"] == customer_id for i in records[("store", "invoices")])
    assert [x["InvoiceLineId"] for x in records[("store", "invoice_lines")]] == truth["lines"]
    assert all(x["TrackName"] for x in records[("store", "invoice_lines")])
    files = data_files(entries)
    assert f'"{WITHHELD}"'.encode() in files[("store", "customers")]["json"]
    assert WITHHELD.encode() in files[("store", "customers")]["csv"]
    assert WITHHELD.encode() in files[("store", "customers")]["xml"]
    # no other customer's e-mail, phone or address anywhere in the bundle
    for other in truth["others"]:
        for v in other.values():
            if v:
                for name, body in entries.items():
                    assert v.encode() not in body, f"another customer's {v!r} is in {name}"
    return expected


@pytest.mark.parametrize("customer_id", CHINOOK_BY_EMAIL)
def test_chinook_by_email(dossier, chinook_map, customer_id, tmp_path):
    email = chinook_customer(chinook_map, customer_id)["Email"]
    if customer_id % 2:
        email = f"  {email.upper()} "   # normalisation: trimmed and case-folded
    expected = check_chinook_export(dossier, chinook_map, customer_id, "email", email, tmp_path)
    assert expected.rounds == 3 and not expected.capped


@pytest.mark.parametrize("customer_id", sorted(CHINOOK_BY_PHONE))
def test_chinook_by_phone(dossier, chinook_map, customer_id, tmp_path):
    check_chinook_export(dossier, chinook_map, customer_id, "phone", CHINOOK_BY_PHONE[customer_id], tmp_path)


def test_chinook_counts_by_hand(chinook_map):
    """The oracle against plain SQL, so that the oracle itself can fail."""
    for cid in CHINOOK_BY_EMAIL:
        truth = chinook_customer(chinook_map, cid)
        r = oracle.resolve(str(chinook_map), [("email", truth["Email"])])
        assert r.counts() == {("store", "customers"): 1, ("store", "invoices"): 6 if cid == 59 else 7,
                              ("store", "invoice_lines"): 36 if cid == 59 else 38}
        assert r.counts()[("store", "invoices")] == len(truth["invoices"])
        assert r.counts()[("store", "invoice_lines")] == len(truth["lines"])
        assert [x["InvoiceId"] for x in r.records[("store", "invoices")]] == truth["invoices"]


def test_chinook_validate(dossier, chinook_map):
    proc = run(dossier, "validate", "--config", chinook_map)
    assert proc.returncode == 0, proc.stderr


def test_chinook_source_is_not_written(dossier, chinook_map, tmp_path):
    db = chinook_map.parent / "chinook.sqlite"
    before = db.read_bytes()
    out = tmp_path / "out"
    out.mkdir()
    export(dossier, chinook_map, [("email", "luisg@embraer.com.br")], out, request_id="RO")
    assert db.read_bytes() == before
    assert not [p for p in db.parent.iterdir() if p.name.startswith("chinook.sqlite-")]


# =========================================================================== a small map of every kind

def test_mini_map_every_file_kind(dossier, mini_map, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    given = [("email", " ANNA@example.pl ")]
    archive = export(dossier, mini_map, given, out, request_id="MINI-1")
    entries = read_archive(archive)
    expected = oracle.resolve(str(mini_map), given)
    assert expected.counts() == {("crm", "contacts"): 1, ("lists", "subscribers"): 1,
                                 ("events", "logins"): 2, ("contests", "entries"): 1}
    records = check_bundle(entries, mini_map, expected, "MINI-1", tmp_path, given=given)

    contact = records[("crm", "contacts")][0]
    assert contact == {"id": 1, "email": "anna@example.pl", "phone": "+48 22 122 86 17", "name": "Anna Nowak",
                       "referrer": WITHHELD, "balance": -12.5, "photo": {"base64": "AP8Q"}, "note": "@mention"}
    assert records[("lists", "subscribers")] == [
        {"Email Address": " Anna@Example.PL ", "Name": "Anna", "Phone": "+48 22 122 86 17",
         "Note": '=HYPERLINK("http://evil.example")'}]
    assert [x["seq"] for x in records[("events", "logins")]] == [1, 2]
    assert records[("events", "logins")][1]["contact_id"] == "1"      # JSON Lines values as written
    assert records[("events", "logins")][0]["device"] == {"os": "linux", "ip": "10.0.0.1"}
    assert records[("contests", "entries")] == [
        {"id": "e1", "contest": "spring", "email": "anna@example.pl", "answers": {"answer": ["A", "B"]},
         "prize": ""}]

    files = data_files(entries)
    csv_text = files[("lists", "subscribers")]["csv"].decode("utf-8")
    assert "'=HYPERLINK" in csv_text and "'+48 22 122 86 17" in csv_text
    crm_csv = files[("crm", "contacts")]["csv"].decode("utf-8")
    assert "'@mention" in crm_csv and "'-12.5" not in crm_csv
    assert re.search(r"(^|,)-12\.5(,|\r\n)", crm_csv, re.MULTILINE), crm_csv
    logins_csv = files[("events", "logins")]["csv"].decode("utf-8")
    assert "device.ip" in logins_csv.splitlines()[0]
    for body in entries.values():
        assert b"jan@example.pl" not in body and b"Jan Kowalski" not in body

    info = json.loads(entries["information.json"])
    assert {p["id"] for p in info["purposes"]} == {"service", "contests"}
    assert {r["id"]: r["third_country"] for r in info["recipients"]} == {"hosting": False, "mailer": True}


def test_mini_map_by_id_and_phone(dossier, mini_map, tmp_path):
    for n, given, counts in (
        (1, [("crm_id", "1")], {("crm", "contacts"): 0, ("lists", "subscribers"): 0,
                                ("events", "logins"): 2, ("contests", "entries"): 0}),
        (2, [("phone", "22 122 86 17")], {("crm", "contacts"): 1, ("lists", "subscribers"): 1,
                                          ("events", "logins"): 2, ("contests", "entries"): 0}),
        (3, [("email", "anna@example.pl"), ("crm_id", "2")], {("crm", "contacts"): 1, ("lists", "subscribers"): 1,
                                                              ("events", "logins"): 3, ("contests", "entries"): 1}),
    ):
        out = tmp_path / f"out{n}"
        out.mkdir()
        archive = export(dossier, mini_map, given, out, request_id=f"MINI-ID-{n}")
        expected = oracle.resolve(str(mini_map), given)
        assert expected.counts() == counts
        check_bundle(read_archive(archive), mini_map, expected, f"MINI-ID-{n}", tmp_path, given=given)


def test_fixture_maps_have_no_empty_values():
    """A comma in a flow mapping ({ en: a, b }) silently makes keys: guard the maps of this suite."""
    def walk(node, path):
        if isinstance(node, dict):
            for k, v in node.items():
                assert v not in (None, ""), f"{path}.{k} is empty"
                walk(v, f"{path}.{k}")
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, f"{path}[{i}]")
    walk(yaml.safe_load((CHINOOK / "chinook.yaml").read_text(encoding="utf-8")), "chinook")
    walk(yaml.safe_load(MINI_MAP), "mini")


@pytest.mark.parametrize("which", ["samples", "chinook", "mini"])
def test_maps_match_the_published_schema(which):
    import jsonschema
    schema = json.loads((REPO / "Schemas" / "datamap.schema.json").read_text(encoding="utf-8"))
    text = {"samples": lambda: SAMPLES_MAP.read_text(encoding="utf-8"),
            "chinook": lambda: (CHINOOK / "chinook.yaml").read_text(encoding="utf-8"),
            "mini": lambda: MINI_MAP}[which]()
    validator = jsonschema.validators.validator_for(schema)
    validator.check_schema(schema)
    errors = [f"{list(e.path)}: {e.message}" for e in validator(schema).iter_errors(yaml.safe_load(text))]
    assert errors == []


def test_mini_map_validates(dossier, mini_map):
    proc = run(dossier, "validate", "--config", mini_map)
    assert proc.returncode == 0, proc.stderr


def test_max_rounds_cap_is_reported(dossier, tmp_path):
    """With max_rounds 1 the crm_id found in round 1 is never looked up: capped, not an error."""
    mini = build_mini(tmp_path / "m", MINI_MAP.replace("fees:", "resolution: { max_rounds: 1 }\nfees:"))
    out = tmp_path / "out"
    out.mkdir()
    archive = export(dossier, mini, [("email", "anna@example.pl")], out, request_id="CAP")
    expected = oracle.resolve(str(mini), [("email", "anna@example.pl")])
    assert expected.capped and expected.rounds == 1 and expected.counts()[("events", "logins")] == 0
    entries = read_archive(archive)
    check_bundle(entries, mini, expected, "CAP", tmp_path)
    assert json.loads(entries["manifest.json"])["resolution"] == {"rounds": 1, "max_rounds": 1, "capped": True}


# =========================================================================== bad input

def bad_map(tmp_path, old: str, new: str, **files) -> Path:
    assert old in MINI_MAP
    return build_mini(tmp_path / "bad", MINI_MAP.replace(old, new, 1), **files)


def export_args(config, out, *ids):
    ids = ids or ("--email", "anna@example.pl")
    return ["export", "--config", config, *ids, "--out", out, "--request-id", "BAD"]


def assert_no_archive(out: Path):
    assert list(out.iterdir()) == [], f"an error left files behind: {list(out.iterdir())}"


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def names_line(msg: str, n: int) -> bool:
    """`line 7`, `line: 7`, `:7:` or `:7 ` after the file name."""
    return bool(re.search(rf"(line\s*:?\s*{n}\b|\.\w+:{n}\b)", msg, re.IGNORECASE))


def test_unknown_key_is_named_with_its_line(dossier, tmp_path, out):
    config = bad_map(tmp_path, "        yields: { crm_id: id }\n",
                     "        yields: { crm_id: id }\n        retension: { period: P1Y }\n")
    line = line_of(config.read_text(), "retension")
    for args in (export_args(config, out), ["validate", "--config", config]):
        proc = run(dossier, *args)
        msg = assert_one_line_error(proc, EX_USAGE, "retension", config.name)
        assert names_line(msg, line), f"line {line} not named in {msg!r}"
    assert_no_archive(out)


def test_x_keys_are_allowed(dossier, tmp_path):
    config = bad_map(tmp_path, "        yields: { crm_id: id }\n",
                     "        yields: { crm_id: id }\n        x-owner: { team: sales, note: free text }\n")
    proc = run(dossier, "validate", "--config", config)
    assert proc.returncode == 0, proc.stderr


def test_undefined_purpose(dossier, tmp_path, out):
    config = bad_map(tmp_path, "        purposes: [contests]\n", "        purposes: [marketing]\n")
    proc = run(dossier, *export_args(config, out))
    assert_one_line_error(proc, EX_USAGE, "marketing", config.name)
    assert_no_archive(out)


def test_lookup_sql_that_writes_is_rejected(dossier, tmp_path, out):
    config = bad_map(tmp_path, "email: SELECT * FROM contacts WHERE lower(email) = :value",
                     "email: DELETE FROM contacts WHERE id = :value")
    for args in (export_args(config, out, "--email", "anna@example.pl"), ["validate", "--config", config]):
        proc = run(dossier, *args)
        assert_one_line_error(proc, EX_USAGE, config.name)
    conn = sqlite3.connect(config.parent / "crm.sqlite")
    assert conn.execute("SELECT count(*) FROM contacts").fetchone()[0] == 2
    conn.close()
    assert_no_archive(out)


def test_lookup_sql_without_value(dossier, tmp_path, out):
    config = bad_map(tmp_path, "email: SELECT * FROM contacts WHERE lower(email) = :value",
                     "email: SELECT * FROM contacts WHERE lower(email) = 'anna@example.pl'")
    proc = run(dossier, *export_args(config, out))
    assert_one_line_error(proc, EX_USAGE, config.name, ":value")
    assert_no_archive(out)


def test_yields_from_third_party_field_is_rejected(dossier, tmp_path, out):
    config = bad_map(tmp_path, "        yields: { crm_id: id }\n", "        yields: { crm_id: id, email: referrer }\n")
    proc = run(dossier, *export_args(config, out))
    assert_one_line_error(proc, EX_USAGE, config.name, "referrer")
    assert_no_archive(out)


def test_missing_source_file(dossier, tmp_path, out):
    config = bad_map(tmp_path, "    path: lists.csv\n", "    path: no-such-list.csv\n")
    proc = run(dossier, *export_args(config, out))
    assert_one_line_error(proc, EX_NOINPUT, "no-such-list.csv")
    assert_no_archive(out)
    proc = run(dossier, "validate", "--config", config)
    assert_one_line_error(proc, EX_NOINPUT, "no-such-list.csv")


def test_missing_sqlite_file_is_not_created(dossier, tmp_path, out):
    config = bad_map(tmp_path, "    path: crm.sqlite\n", "    path: no-such.sqlite\n")
    proc = run(dossier, *export_args(config, out))
    assert_one_line_error(proc, EX_NOINPUT, "no-such.sqlite")
    assert not (config.parent / "no-such.sqlite").exists(), "opening the source created it"
    assert_no_archive(out)


def test_malformed_csv_line(dossier, tmp_path, out):
    broken = MINI_CSV + '"unterminated,x@example.pl,+48 22 000 00 00,oops\r\n'
    config = bad_map(tmp_path, "version: 1\n", "version: 1\n", csv_text=broken)
    proc = run(dossier, *export_args(config, out))
    msg = assert_one_line_error(proc, EX_NOINPUT, "lists.csv")
    assert names_line(msg, 4), f"line 4 not named: {msg!r}"
    assert_no_archive(out)


def test_malformed_jsonl_line(dossier, tmp_path, out):
    lines = MINI_JSONL.splitlines(keepends=True)
    broken = lines[0] + lines[1] + '{"seq": 9, "type": "login", "contact_id": \n' + "".join(lines[2:])
    config = bad_map(tmp_path, "version: 1\n", "version: 1\n", jsonl_text=broken)
    proc = run(dossier, *export_args(config, out))
    msg = assert_one_line_error(proc, EX_NOINPUT, "events.jsonl")
    assert names_line(msg, 3), f"line 3 not named: {msg!r}"
    assert_no_archive(out)


def test_xml_with_entities_is_refused(dossier, tmp_path, out):
    evil = MINI_XML.replace(
        '<?xml version="1.0" encoding="UTF-8"?>\n',
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<!DOCTYPE contests [<!ENTITY secret SYSTEM "file:///etc/hostname"><!ENTITY lol "lol">]>\n',
    ).replace("<prize/>", "<prize>&secret;&lol;</prize>")
    config = bad_map(tmp_path, "version: 1\n", "version: 1\n", xml_text=evil)
    proc = run(dossier, *export_args(config, out))
    assert_one_line_error(proc, EX_NOINPUT, "entries.xml")
    assert_no_archive(out)
    hostname = Path("/etc/hostname").read_text().strip() if Path("/etc/hostname").exists() else ""
    if hostname:
        assert hostname not in proc.stdout + proc.stderr


@pytest.mark.parametrize("option,value", [("--email", "not an e-mail"), ("--email", ""),
                                          ("--phone", "call me maybe"), ("--phone", "+")])
def test_invalid_identifier(dossier, mini_map, out, option, value):
    proc = run(dossier, *export_args(mini_map, out, option, value))
    assert_one_line_error(proc, EX_USAGE, option.lstrip("-"))
    assert_no_archive(out)


def test_an_unknown_source_kind(dossier, tmp_path, out):
    config = bad_map(tmp_path, "    kind: sqlite\n    path: crm.sqlite\n",
                     "    kind: ftp\n    path: crm.sqlite\n")
    proc = run(dossier, *export_args(config, out))
    assert_one_line_error(proc, EX_USAGE, "unknown source kind 'ftp'", "http")
    assert_no_archive(out)


def test_no_identifier(dossier, mini_map, out):
    proc = run(dossier, "export", "--config", mini_map, "--out", out)
    assert_one_line_error(proc, EX_USAGE)
    assert_no_archive(out)


def test_output_cannot_be_created(dossier, mini_map, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    proc = run(dossier, *export_args(mini_map, blocker / "out"))
    assert_one_line_error(proc, EX_CANTCREAT)


def test_missing_map(dossier, tmp_path, out):
    proc = run(dossier, *export_args(tmp_path / "nope.yaml", out))
    assert proc.returncode in (EX_USAGE, EX_NOINPUT)
    assert_one_line_error(proc, proc.returncode, "nope.yaml")


def test_a_language_without_texts_is_a_map_error(dossier, samples_map, tmp_path, out):
    """The bundle's texts come from translation files: a map language without one is named by
    validate, and an export in it stops before any source is read."""
    text = Path(samples_map).read_text(encoding="utf-8").replace("languages: [pl, en]", "languages: [de, pl]")
    assert "languages: [de, pl]" in text
    config = tmp_path / "de-map.yaml"   # the check comes before any source is opened
    config.write_text(text, encoding="utf-8")
    proc = run(dossier, "validate", "--config", config)
    assert_one_line_error(proc, EX_USAGE, "'de'", "controller.languages")
    proc = run(dossier, *export_args(config, out))
    assert_one_line_error(proc, EX_USAGE, "'de'")
    assert_no_archive(out)


def test_the_data_is_the_same_whichever_identifier_finds_the_person(dossier, samples_map, tmp_path):
    """The records arrive in a different order from a CRM id than from an e-mail (the contest entry
    with a phone first, or the one with an e-mail); the data files, and so the fingerprint, must not
    depend on it (the CSV columns once did)."""
    bundles = {}
    for name, args in (("email", ["--email", "zofia.wisniewska@example.pl"]), ("crm_id", ["--id", "crm_id=17"]),
                       ("phone", ["--phone", "+48 22 122 86 17"])):
        out = tmp_path / name
        proc = run(dossier, "export", "--config", samples_map, *args, "--out", out, "--request-id", "R", "--as-of", AS_OF)
        assert proc.returncode == 0, proc.stderr
        entries = read_archive(Path(proc.stdout.strip().splitlines()[-1]))
        bundles[name] = ({n: b for n, b in entries.items() if n.startswith("data/")},
                         json.loads(entries["manifest.json"])["fingerprint"])
    assert bundles["email"][0] == bundles["crm_id"][0] == bundles["phone"][0]
    assert len({fingerprint for _, fingerprint in bundles.values()}) == 1
