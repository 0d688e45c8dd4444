"""Helpers for the end-to-end tests: run the real `dossier` binary, open its archives, and check a
bundle against the interface contract (data map, resolution, bundle layout, CLI) and the independent
oracle (oracle.py)."""

from __future__ import annotations

import collections
import csv
import hashlib
import io
import itertools
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tarfile
import xml.etree.ElementTree as ET
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import oracle  # noqa: E402
from pg_server import PrivateCluster, sql_identifier  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
SAMPLES_MAP = REPO / "Samples" / "dossier.yaml"
SAMPLES_CRM = REPO / "Samples" / "crm" / "crm.sqlite"
CHINOOK = REPO / "Tests" / "Fixtures" / "chinook"
PG_TYPES_SQL = REPO / "Tests" / "Fixtures" / "postgres" / "types.sql"
AS_OF = "2026-01-02T03:04:05Z"
WITHHELD = oracle.WITHHELD
EX_USAGE, EX_NOINPUT, EX_CANTCREAT = 64, 66, 73


# --------------------------------------------------------------------------- running the binary

@pytest.fixture(scope="session")
def dossier() -> str:
    path = os.environ.get("DOSSIER") or str(REPO / ".build" / "debug" / "dossier")
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        pytest.fail(f"the dossier binary is missing or not executable: {path} "
                    f"(run `swift build` first, or point the DOSSIER environment variable at it)",
                    pytrace=False)
    return path


def run(dossier: str, *args, cwd=None, timeout=300) -> subprocess.CompletedProcess:
    return subprocess.run([dossier, *map(str, args)], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)


def id_args(identifiers) -> list[str]:
    """[(kind, value)] -> CLI options."""
    out = []
    for kind, value in identifiers:
        if kind == "email":
            out += ["--email", value]
        elif kind == "phone":
            out += ["--phone", value]
        else:
            out += ["--id", f"{kind}={value}"]
    return out


def export(dossier, config, identifiers, out: Path, fmt="zip", request_id="REQ-TEST-0001",
           as_of=AS_OF, cwd=None) -> Path:
    """Run `dossier export`, require exit 0, return the archive path (the last stdout line)."""
    args = ["export", "--config", config, *id_args(identifiers), "--out", out, "--format", fmt]
    if request_id is not None:
        args += ["--request-id", request_id]
    if as_of is not None:
        args += ["--as-of", as_of]
    proc = run(dossier, *args, cwd=cwd or out)
    assert proc.returncode == 0, f"export failed ({proc.returncode}): {proc.stderr}"
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    assert lines, "export printed no archive path"
    path = Path(lines[-1].strip())
    if not path.is_absolute():
        path = Path(cwd or out) / path
    assert path.is_file(), f"the printed archive path does not exist: {path}"
    return path


def assert_one_line_error(proc: subprocess.CompletedProcess, code: int, *must_contain: str):
    """Exit `code`, exactly one non-empty line on stderr, no trace, containing every given text."""
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == code, f"exit {proc.returncode}, expected {code}; stderr: {proc.stderr!r}"
    assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}: {proc.stderr!r}"
    for bad in ("Traceback", "Fatal error", "Stack dump", "backtrace", "0x0000"):
        assert bad not in proc.stderr, f"stderr carries a trace: {proc.stderr!r}"
    for text in must_contain:
        assert text.lower() in lines[0].lower(), f"{text!r} not in stderr: {lines[0]!r}"
    return lines[0]


# --------------------------------------------------------------------------- archives

def read_archive(path: Path) -> dict[str, bytes]:
    """Entry name -> bytes, files only (directory entries left out)."""
    entries: dict[str, bytes] = {}
    if path.name.endswith(".zip"):
        with zipfile.ZipFile(path) as z:
            assert z.testzip() is None
            for info in z.infolist():
                if not info.is_dir():
                    assert info.filename not in entries, f"duplicate entry {info.filename}"
                    entries[info.filename] = z.read(info)
    else:
        # Python's tarfile cannot read zstd: a tar.zst is first turned into a plain tar by bsdtar.
        if path.name.endswith(".tar.zst"):
            proc = subprocess.run(["bsdtar", "-cf", "-", "--format", "pax", f"@{path}"], capture_output=True)
            assert proc.returncode == 0, f"bsdtar cannot read {path.name}: {proc.stderr.decode(errors='replace')}"
            opened = tarfile.open(fileobj=io.BytesIO(proc.stdout), mode="r:")
        else:
            opened = tarfile.open(path, "r:gz")
        with opened as t:
            for member in t.getmembers():
                if member.isfile():
                    assert member.name not in entries, f"duplicate entry {member.name}"
                    entries[member.name] = t.extractfile(member).read()
                else:
                    assert member.isdir(), f"{member.name}: neither a file nor a directory"
    for name in entries:
        assert not name.startswith("/") and ".." not in name.split("/"), f"unsafe entry name {name}"
    return entries


def data_files(entries) -> dict:
    """(source, dataset) -> {ext: bytes} for the entries under data/. A spreadsheet is its sheets'
    XML (its cells), without the document properties that carry the bundle's time."""
    out: dict = collections.defaultdict(dict)
    for name, body in entries.items():
        if name.startswith("data/"):
            m = re.fullmatch(r"data/([^/]+)/([^/]+)\.(json|csv|xml|xlsx)", name)
            assert m, f"unexpected entry under data/: {name}"
            if m.group(3) == "xlsx":
                with zipfile.ZipFile(io.BytesIO(body)) as z:
                    body = b"".join(z.read(n) for n in sorted(z.namelist()) if n.startswith("xl/worksheets/"))
            out[(m.group(1), m.group(2))][m.group(3)] = body
    return out


# --------------------------------------------------------------------------- values

NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def is_number(text: str) -> bool:
    return bool(NUMBER.fullmatch(text))


def canon(value) -> str:
    return oracle.canonical(value)


def multiset(records) -> collections.Counter:
    return collections.Counter(canon(r) for r in records)


def is_binary(value) -> bool:
    return isinstance(value, dict) and set(value) == {"base64"} and isinstance(value["base64"], str)


def flatten(record: dict, prefix="", binary_leaf=False) -> dict:
    """Nested objects become dotted names; lists and scalars stay values. With `binary_leaf`, a
    binary value ({"base64": ...}) is one column holding the base64 text (the contract leaves open
    whether a CSV writes `photo` or `photo.base64`)."""
    out = {}
    for k, v in record.items():
        name = prefix + k
        if binary_leaf and is_binary(v):
            out[name] = v["base64"]
        elif isinstance(v, dict) and v:
            out.update(flatten(v, name + ".", binary_leaf))
        else:
            out[name] = v
    return out


def scalar_equal(text: str, value) -> bool:
    """A value written as text (CSV cell, XML text) against its JSON value."""
    if value is None:
        return text == ""
    if isinstance(value, bool):
        return text == ("true" if value else "false")
    if isinstance(value, (int, float)):
        return is_number(text) and float(text) == float(value)
    if isinstance(value, str):
        return text == value
    if isinstance(value, (list, dict)):
        if value in ([], {}) and text == "":
            return True
        try:
            return canon(json.loads(text)) == canon(value)
        except ValueError:
            return False
    return False


def csv_cell_equal(cell: str, value) -> bool:
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r") and not is_number(value):
        return cell == "'" + value
    return scalar_equal(cell, value)


def xml_value(field: ET.Element):
    """A <field> or <item> back to a value: null, text, object of fields, or list of items."""
    if field.get("null") == "true":
        assert len(field) == 0 and not (field.text or "").strip(), "a null field has content"
        return None
    children = list(field)
    if not children:
        return field.text or ""
    tags = {c.tag for c in children}
    assert len(tags) == 1 and tags <= {"field", "item"}, f"mixed children {tags}"
    if tags == {"item"}:
        return [xml_value(c) for c in children]
    obj = {}
    for c in children:
        assert c.get("name") not in obj, f"duplicate field {c.get('name')}"
        obj[c.get("name")] = xml_value(c)
    return obj


def xml_equal(x, j) -> bool:
    if is_binary(j) and isinstance(x, str):
        return x == j["base64"]
    if isinstance(j, dict) and j:
        return isinstance(x, dict) and x.keys() == j.keys() and all(xml_equal(x[k], j[k]) for k in j)
    if isinstance(j, list) and j:
        return isinstance(x, list) and len(x) == len(j) and all(xml_equal(a, b) for a, b in zip(x, j))
    if j is None:
        return x is None
    return isinstance(x, str) and scalar_equal(x, j)


def sort_key(record, key_paths):
    out = []
    for p in key_paths:
        v = oracle.get_path(record, p)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            out.append((0, float(v), ""))
        else:
            out.append((1, 0.0, "" if v in (None, oracle._MISSING) else str(v)))
    return out


def xmllint_ok(body: bytes, tmp_dir: Path, name: str) -> None:
    f = tmp_dir / name.replace("/", "_")
    f.write_bytes(body)
    proc = subprocess.run(["xmllint", "--noout", "--nonet", str(f)], capture_output=True, text=True)
    assert proc.returncode == 0, f"{name} is not well-formed XML: {proc.stderr}"


# --------------------------------------------------------------------------- checking a bundle

def check_bundle(entries: dict, map_path, expected: oracle.Result, request_id: str, tmp_dir: Path,
                 given=None) -> dict:
    """Every contract rule for a bundle against the map and the oracle's result. Returns
    {(source, dataset): JSON records} for further checks."""
    dmap = oracle.load_map(str(map_path))
    all_ds = [(s, d) for s, d, _, _ in oracle.datasets(dmap)]
    ds_spec = {(s, d): ds for s, d, _, ds in oracle.datasets(dmap)}
    nonempty = [sd for sd in all_ds if expected.records[sd]]

    # the entries: manifest, information, and three files for every dataset with records
    assert "manifest.json" in entries and "information.json" in entries
    files = data_files(entries)
    assert set(files) == set(nonempty), f"data files for {sorted(files)}, expected {sorted(nonempty)}"
    for sd, exts in files.items():
        assert set(exts) == {"json", "csv", "xml", "xlsx"}, f"{sd}: {sorted(exts)}"

    # every JSON file parses
    for name, body in entries.items():
        if name.endswith(".json"):
            json.loads(body.decode("utf-8"))

    records = {}
    for (s, d) in nonempty:
        spec = ds_spec[(s, d)]
        doc = json.loads(files[(s, d)]["json"])
        assert doc["schema_version"] == 1
        assert (doc["source"], doc["dataset"]) == (s, d)
        recs = doc["records"]
        assert doc["count"] == len(recs) == len(expected.records[(s, d)]), \
            f"{s}/{d}: count {doc['count']}, {len(recs)} records, oracle {len(expected.records[(s, d)])}"
        got, want = multiset(recs), multiset(expected.records[(s, d)])
        assert got == want, (f"{s}/{d}: records differ from the oracle\n"
                             f"only in the archive: {sorted((got - want).elements())[:5]}\n"
                             f"only in the oracle: {sorted((want - got).elements())[:5]}")
        if spec.get("key"):
            keys = [sort_key(r, spec["key"]) for r in recs]
            assert keys == sorted(keys), f"{s}/{d}: records are not in key order"
        check_csv(s, d, files[(s, d)]["csv"], recs)
        check_xml(s, d, files[(s, d)]["xml"], recs, tmp_dir)
        records[(s, d)] = recs

    check_manifest(entries, dmap, all_ds, expected, request_id, records, given)
    check_information(json.loads(entries["information.json"]), dmap, nonempty, records)
    return records


def check_csv(s, d, body: bytes, recs: list) -> None:
    assert body.endswith(b"\r\n"), f"{s}/{d}.csv does not end with CRLF"
    assert body.split(b"\n", 1)[0].endswith(b"\r"), f"{s}/{d}.csv: the header line does not end with CRLF"
    text = body.decode("utf-8")
    if text.startswith("\ufeff"):
        text = text[1:]
    rows = list(csv.reader(io.StringIO(text, newline=""), strict=True))
    header, rows = rows[0], rows[1:]
    assert len(header) == len(set(header)), f"{s}/{d}.csv: duplicate columns {header}"
    for binary_leaf in (False, True):
        flat = [flatten(r, binary_leaf=binary_leaf) for r in recs]
        union = []
        for f in flat:
            union += [k for k in f if k not in union]
        if set(header) == set(union):
            break
    assert set(header) == set(union), f"{s}/{d}.csv: header {header}, expected the columns {union}"
    assert len(rows) == len(recs), f"{s}/{d}.csv: {len(rows)} rows, {len(recs)} records"
    for i, (row, f) in enumerate(zip(rows, flat)):
        assert len(row) == len(header), f"{s}/{d}.csv row {i + 1}: {len(row)} cells"
        for col, cell in zip(header, row):
            value = f.get(col)
            assert csv_cell_equal(cell, value), f"{s}/{d}.csv row {i + 1} {col}: {cell!r} vs JSON {value!r}"


def check_xml(s, d, body: bytes, recs: list, tmp_dir: Path) -> None:
    xmllint_ok(body, tmp_dir, f"{s}_{d}.xml")
    root = ET.fromstring(body)
    assert root.tag == "dataset" and root.get("source") == s and root.get("name") == d, \
        f"{s}/{d}.xml root: {root.tag} {root.attrib}"
    xrecs = list(root)
    assert all(r.tag == "record" for r in xrecs)
    assert len(xrecs) == len(recs), f"{s}/{d}.xml: {len(xrecs)} records, JSON has {len(recs)}"
    for i, (xr, jr) in enumerate(zip(xrecs, recs)):
        fields = {}
        for f in xr:
            assert f.tag == "field", f"{s}/{d}.xml record {i}: <{f.tag}>"
            fields[f.get("name")] = xml_value(f)
        assert xml_equal(fields, jr), f"{s}/{d}.xml record {i}: {fields} vs JSON {jr}"


def check_manifest(entries, dmap, all_ds, expected, request_id, records, given) -> None:
    m = json.loads(entries["manifest.json"])
    assert m["schema_version"] == 1
    assert m["tool"]["name"] and m["tool"]["version"]
    assert m["request_id"] == request_id
    assert m["kind"] == "access"
    assert m["delivery"] is False
    datetime.fromisoformat(m["generated_at"].replace("Z", "+00:00"))
    assert m["generated_at"].endswith(("Z", "+00:00"))
    has_data = any(expected.records[sd] for sd in all_ds)
    assert m["has_data"] is has_data

    # identifiers: what was given, and what matched
    region = dmap["controller"]["default_region"]
    if given is not None:
        got = [(i["kind"], i["value"]) for i in m["identifiers"]["given"]]
        assert len(got) == len(given)
        for (k, v), (gk, gv) in zip(given, got):
            assert gk == k and gv in (v, oracle.normalize(k, v, region)), f"given {gk}={gv}, expected {k}={v}"
    matched = {(i["kind"], i["value"]) for i in m["identifiers"]["matched"]}
    assert set(expected.matched) <= matched <= set(expected.identifiers), \
        f"matched identifiers {sorted(matched)}; oracle found {sorted(expected.matched)} of {sorted(expected.identifiers)}"

    assert m["resolution"]["max_rounds"] == expected.max_rounds
    assert m["resolution"]["rounds"] == expected.rounds
    assert m["resolution"]["capped"] is expected.capped

    # every dataset of the map, zero counts included, each exactly once
    listed = {(x["source"], x["dataset"]): x for x in m["datasets"]}
    assert len(listed) == len(m["datasets"]) == len(all_ds)
    assert set(listed) == set(all_ds)
    for sd in all_ds:
        n = len(expected.records[sd])
        assert listed[sd]["count"] == n, f"manifest count for {sd}: {listed[sd]['count']}, oracle {n}"
        want_files = {f"data/{sd[0]}/{sd[1]}.{e}" for e in ("json", "csv", "xml", "xlsx")} if n else set()
        assert set(listed[sd]["files"]) == want_files

    # every other file, with its hash, size and record count (SHA256SUMS checks the manifest in turn)
    files = {f["path"]: f for f in m["files"]}
    assert len(files) == len(m["files"])
    assert set(files) == set(entries) - {"manifest.json", "SHA256SUMS"}, \
        f"manifest files {sorted(files)} vs archive {sorted(set(entries) - {'manifest.json', 'SHA256SUMS'})}"
    for path, f in files.items():
        assert f["sha256"] == hashlib.sha256(entries[path]).hexdigest(), f"sha256 of {path}"
        assert f["bytes"] == len(entries[path]), f"bytes of {path}"
        mm = re.fullmatch(r"data/([^/]+)/([^/]+)\.(json|csv|xml|xlsx)", path)
        if mm:
            assert f["records"] == len(records[(mm.group(1), mm.group(2))]), f"records of {path}"

    # matches: every record was found by an identifier the oracle says finds it
    covered = collections.defaultdict(set)
    for x in m["matches"]:
        sd = (x["source"], x["dataset"])
        assert sd in records, f"a match in {sd}, which has no records"
        rec = records[sd][x["record"]]
        ident = (x["identifier"]["kind"], x["identifier"]["value"])
        finders = [fd for r, fd in zip(expected.records[sd], expected.found_by[sd]) if canon(r) == canon(rec)]
        assert finders and ident in finders[0], f"{sd} record {x['record']} found by {ident}? oracle: {finders}"
        assert x["round"] == finders[0][ident], f"{sd} record {x['record']} by {ident}: round {x['round']}, oracle {finders[0][ident]}"
        covered[sd].add(x["record"])
    for sd, recs in records.items():
        assert covered[sd] == set(range(len(recs))), f"{sd}: records without a match entry"


def translatable(value) -> bool:
    return isinstance(value, str) and value.strip() != "" or isinstance(value, dict) and bool(value)


def check_information(info, dmap, nonempty, records) -> None:
    assert info["schema_version"] == 1
    has_data = bool(nonempty)
    assert info["has_data"] is has_data
    assert info["language"] == dmap["controller"]["languages"][0]
    assert info["controller"]["name"] == dmap["controller"]["name"]
    assert info["supervisory_authority"]["name"] == dmap["controller"]["supervisory_authority"]["name"]
    assert info["rights"] and all(r["right"] and r["text"] for r in info["rights"])

    spec = {(s, d): ds for s, d, _, ds in oracle.datasets(dmap)}
    names = {sd: f"{sd[0]}/{sd[1]}" for sd in spec}

    want_purposes = collections.defaultdict(set)
    want_recipients = set()
    for sd in nonempty:
        for p in spec[sd].get("purposes") or []:
            want_purposes[p].add(names[sd])
        want_recipients |= set(spec[sd].get("recipients") or [])
    got_purposes = {p["id"]: p for p in info["purposes"]}
    assert len(got_purposes) == len(info["purposes"])
    assert set(got_purposes) == set(want_purposes), f"purposes {sorted(got_purposes)}, expected {sorted(want_purposes)}"
    for pid, p in got_purposes.items():
        mp = dmap["purposes"][pid]
        assert p["legal_basis"] == mp["legal_basis"]
        assert translatable(p["title"])
        assert set(p["datasets"]) == want_purposes[pid], f"purpose {pid}: datasets {p['datasets']}"
        assert ("legitimate_interest" in p) == ("legitimate_interest" in mp)
        assert ("automated_decision" in p) == ("automated_decision" in mp)

    got_recipients = {r["id"]: r for r in info["recipients"]}
    assert len(got_recipients) == len(info["recipients"])
    assert set(got_recipients) == want_recipients, f"recipients {sorted(got_recipients)}, expected {sorted(want_recipients)}"
    for rid, r in got_recipients.items():
        country = dmap["recipients"][rid]["country"]
        assert r["country"] == country
        assert r["third_country"] is (country not in oracle.EEA)
        if r["third_country"]:
            basis = r.get("transfer_basis") or {}
            if "safeguard" in dmap["recipients"][rid] and not dmap["recipients"][rid].get("dpf_certified") \
                    and country not in oracle.ADEQUATE:
                assert basis == {"article": "46", "kind": "safeguard", "safeguard": r["safeguard"]}, f"recipient {rid}: {basis}"
                assert translatable(r.get("safeguard")), f"recipient {rid}: no safeguard"
            else:
                assert basis.get("article") == "45" and basis.get("kind") == "adequacy_decision", f"recipient {rid}: {basis}"
        else:
            assert "transfer_basis" not in r

    auto = {a["purpose"] for a in info["automated_decisions"]}
    assert auto == {p for p in want_purposes if "automated_decision" in dmap["purposes"][p]}

    assert {x["dataset"] for x in info["retention"]} == {names[sd] for sd in nonempty}
    origins = {x["dataset"]: x for x in info["origins"]}
    assert set(origins) == {names[sd] for sd in nonempty}
    for sd in nonempty:
        assert origins[names[sd]]["origin"] == spec[sd]["origin"]

    # categories: at least those of the described fields the person's records have, at most those
    # of the non-empty datasets' fields (and `uncategorised` for undescribed fields)
    cats = {c["id"] for c in info["categories"]}
    low, high = set(), set()
    undescribed = False
    for sd in nonempty:
        fields = spec[sd].get("fields") or {}
        high |= {f["category"] for f in fields.values()}
        present = set()
        for r in records[sd]:
            present |= set(flatten(r))
        for name in present:
            if name in fields:
                low.add(fields[name]["category"])
            elif not any(name.startswith(p + ".") for p in fields):
                undescribed = True
    if undescribed:
        low.add("uncategorised")
    high.add("uncategorised")
    assert low <= cats <= high, f"categories {sorted(cats)}: expected at least {sorted(low)}, at most {sorted(high)}"


# --------------------------------------------------------------------------- fixtures

@pytest.fixture(scope="session")
def samples_map() -> Path:
    if not SAMPLES_MAP.is_file():
        pytest.fail(f"{SAMPLES_MAP} is missing", pytrace=False)
    if not SAMPLES_CRM.is_file():
        pytest.fail(f"{SAMPLES_CRM} is missing: run `python3 Samples/build.py` first (the Makefile does)",
                    pytrace=False)
    return SAMPLES_MAP


def build_chinook(folder: Path) -> Path:
    """chinook.sqlite (from the SQL script) next to a copy of chinook.yaml; returns the map."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(CHINOOK / "chinook.yaml", folder / "chinook.yaml")
    script = (CHINOOK / "Chinook_Sqlite.sql").read_text(encoding="utf-8-sig")
    conn = sqlite3.connect(folder / "chinook.sqlite")
    try:
        conn.executescript(script)
        conn.commit()
        counts = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                  for t in ("Customer", "Invoice", "InvoiceLine", "Track", "Employee")}
    finally:
        conn.close()
    assert counts == {"Customer": 59, "Invoice": 412, "InvoiceLine": 2240, "Track": 3503, "Employee": 8}, counts
    return folder / "chinook.yaml"


@pytest.fixture(scope="session")
def chinook_map(tmp_path_factory) -> Path:
    return build_chinook(tmp_path_factory.mktemp("chinook"))


@pytest.fixture
def out(tmp_path) -> Path:
    d = tmp_path / "out"
    d.mkdir()
    return d


# --------------------------------------------------------------------------- a small map of every file kind

MINI_MAP = """\
version: 1
controller:
  name: Mini Sp. z o.o.
  address: ul. Testowa 1, 00-001 Warszawa
  email: privacy@mini.example
  dpo: { email: dpo@mini.example }
  supervisory_authority: { name: Prezes Urzędu Ochrony Danych Osobowych, website: https://uodo.gov.pl }
  languages: [en, pl]
  default_region: PL
fees: { currency: PLN, further_copy: 25.00 }
purposes:
  service: { title: { en: Providing the service, pl: Świadczenie usługi }, legal_basis: contract }
  contests:
    title: Running contests
    legal_basis: consent
categories:
  contact: { title: { en: Contact details } }
  identity: { title: { en: Name } }
  activity: { title: { en: Activity } }
recipients:
  hosting: { title: { en: Hosting provider }, country: DE }
  mailer: { title: { en: Mailing provider }, country: US, safeguard: { en: Standard contractual clauses } }
sources:
  crm:
    kind: sqlite
    path: crm.sqlite
    datasets:
      contacts:
        key: [id]
        lookup:
          email: SELECT * FROM contacts WHERE lower(email) = :value
          phone: SELECT * FROM contacts WHERE normalize_phone(phone) = :value
        yields: { crm_id: id }
        purposes: [service]
        recipients: [hosting]
        retention: { period: P1Y }
        origin: subject
        fields:
          email: { category: contact }
          phone: { category: contact }
          name: { category: identity }
          referrer: { category: identity, third_party: true }
  lists:
    kind: csv
    path: lists.csv
    datasets:
      subscribers:
        lookup: { email: Email Address, phone: Phone }
        purposes: [service]
        recipients: [mailer]
        retention: { criteria: { en: Until you unsubscribe } }
        origin: subject
  events:
    kind: jsonl
    path: events.jsonl
    datasets:
      logins:
        key: [seq]
        where: { type: login }
        lookup: { crm_id: contact_id }
        purposes: [service]
        retention: { period: P90D }
        origin: observed
        fields:
          device.ip: { category: activity }
  contests:
    kind: xml
    path: entries.xml
    datasets:
      entries:
        record: /contests/entry
        lookup: { email: email }
        purposes: [contests]
        retention: { period: P1Y }
        origin: subject
"""

MINI_CSV = (
    'Email Address,Name,Phone,Note\r\n'
    ' Anna@Example.PL ,Anna,+48 22 122 86 17,=HYPERLINK("http://evil.example")\r\n'
    'jan@example.pl,Jan,+48221228600,-12.50\r\n'
)

MINI_JSONL = (
    '{"seq": 1, "type": "login", "contact_id": 1, "at": "2025-01-01T10:00:00Z", "device": {"os": "linux", "ip": "10.0.0.1"}}\n'
    '{"seq": 2, "type": "login", "contact_id": "1", "at": "2025-01-02T10:00:00Z", "device": {"os": "android", "ip": "10.0.0.2"}, "tags": ["a", "b"]}\n'
    '{"seq": 3, "type": "purchase", "contact_id": 1, "amount": 12.5}\n'
    '{"seq": 4, "type": "login", "contact_id": 2, "at": "2025-01-03T10:00:00Z", "device": {"os": "ios", "ip": "10.0.0.3"}}\n'
)

MINI_XML = """<?xml version="1.0" encoding="UTF-8"?>
<contests>
  <entry id="e1" contest="spring">
    <email>anna@example.pl</email>
    <answers><answer>A</answer><answer>B</answer></answers>
    <prize/>
  </entry>
  <entry id="e2" contest="spring">
    <email>jan@example.pl</email>
    <answers><answer>C</answer></answers>
    <prize>book</prize>
  </entry>
</contests>
"""


def build_mini(folder: Path, map_text: str = MINI_MAP, csv_text: str = MINI_CSV, jsonl_text: str = MINI_JSONL,
               xml_text: str = MINI_XML) -> Path:
    """A small map with one source of every implemented kind; Anna (contact 1, anna@example.pl,
    +48 22 122 86 17) has records in all four, Jan (contact 2) is her referrer."""
    folder.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(folder / "crm.sqlite")
    conn.executescript("""
        CREATE TABLE contacts (id INTEGER PRIMARY KEY, email TEXT, phone TEXT, name TEXT,
                               referrer TEXT, balance REAL, photo BLOB, note TEXT);
        INSERT INTO contacts VALUES (1, 'anna@example.pl', '+48 22 122 86 17', 'Anna Nowak',
                                     'Jan Kowalski', -12.5, x'00ff10', '@mention');
        INSERT INTO contacts VALUES (2, 'jan@example.pl', '0048221228600', 'Jan Kowalski',
                                     NULL, 0.25, NULL, NULL);
    """)
    conn.commit()
    conn.close()
    (folder / "lists.csv").write_text(csv_text, encoding="utf-8", newline="")
    (folder / "events.jsonl").write_text(jsonl_text, encoding="utf-8")
    (folder / "entries.xml").write_text(xml_text, encoding="utf-8")
    (folder / "mini.yaml").write_text(map_text, encoding="utf-8")
    return folder / "mini.yaml"


@pytest.fixture
def mini_map(tmp_path) -> Path:
    return build_mini(tmp_path / "mini")


# --------------------------------------------------------------------------- PostgreSQL

PG_READER = "dossier_reader"
PG_READER_PASSWORD = "p@ss:w/rd%é"  # every character a URL must percent-encode, and one non-ASCII


@dataclass(frozen=True)
class PgDatabase:
    """How the reader reaches one database of the private cluster (TCP on 127.0.0.1, SCRAM)."""
    url: str  # postgres://user:password@127.0.0.1:port/database?sslmode=disable, percent-encoded
    host: str
    port: int
    database: str
    user: str
    password: str
    cluster: PrivateCluster


@pytest.fixture(scope="session")
def pg_cluster():
    """One private PostgreSQL cluster for the session (pg_server.py); fails if it cannot start."""
    cluster = PrivateCluster()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def pg_reader(pg_cluster) -> tuple[str, str]:
    """(user, password) of the LOGIN role the tests read as; its rights come from readable_by
    (PUBLIC's default CONNECT on the initial databases is revoked, so it reaches no other)."""
    pg_cluster.create_role(PG_READER, PG_READER_PASSWORD)
    pg_cluster.psql("REVOKE ALL ON DATABASE postgres, template1 FROM PUBLIC;")
    return PG_READER, PG_READER_PASSWORD


def readable_by(cluster: PrivateCluster, database: str, reader: tuple[str, str]) -> PgDatabase:
    """Let `reader` connect to `database` and SELECT its tables in schema public, nothing more
    (PUBLIC loses its default CONNECT and TEMPORARY on the database and USAGE on the schema)."""
    user, password = reader
    db, role = sql_identifier(database), sql_identifier(user)
    cluster.psql(f"REVOKE ALL ON DATABASE {db} FROM PUBLIC; GRANT CONNECT ON DATABASE {db} TO {role};")
    cluster.psql(f"REVOKE ALL ON SCHEMA public FROM PUBLIC; GRANT USAGE ON SCHEMA public TO {role};"
                 f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role};", db=database)
    return PgDatabase(url=cluster.url(user, password, database), host=cluster.host, port=cluster.port,
                      database=database, user=user, password=password, cluster=cluster)


@pytest.fixture(scope="session")
def pg_chinook(pg_cluster, pg_reader) -> PgDatabase:
    """The Chinook database (`chinook`, created by the script itself), readable by dossier_reader."""
    pg_cluster.psql_file(CHINOOK / "Chinook_PostgreSql.sql")
    return readable_by(pg_cluster, "chinook", pg_reader)


@pytest.fixture(scope="session")
def pg_types(pg_cluster, pg_reader) -> PgDatabase:
    """`dossier_types`: the table `everything` (Tests/Fixtures/postgres/types.sql), one row per
    case of each column type, readable by dossier_reader."""
    pg_cluster.create_database("dossier_types")
    pg_cluster.psql_file(PG_TYPES_SQL, db="dossier_types")
    return readable_by(pg_cluster, "dossier_types", pg_reader)


PG_LEDGER_ROLE = ("dossier_ledger", "ledger:pass/w@rd")


@pytest.fixture
def pg_ledger_database(pg_cluster):
    """A factory of fresh, empty databases for PostgreSQL ledgers, each owned by the LOGIN role
    dossier_ledger (which creates the ledger's tables itself); returns a PgDatabase."""
    user, password = PG_LEDGER_ROLE
    if not pg_cluster.psql(f"SELECT 1 FROM pg_roles WHERE rolname = '{user}'").strip():
        pg_cluster.create_role(user, password)

    def fresh() -> PgDatabase:
        name = f"ledger_{next(_ledger_numbers)}"
        pg_cluster.create_database(name, owner=user)
        return PgDatabase(url=pg_cluster.url(user, password, name), host=pg_cluster.host, port=pg_cluster.port,
                          database=name, user=user, password=password, cluster=pg_cluster)
    return fresh


_ledger_numbers = itertools.count(1)
