"""End-to-end tests of the bundle and archive additions of issue 4: the published schemas (JSON
Schema 2020-12 and XSD), SHA256SUMS, index.html, portability exports, tar.zst, AES-256 encryption,
split archives, deterministic archives and CSV with a byte order mark.

Every bundle is produced by the real `dossier` binary ($DOSSIER, default .build/debug/dossier) and read
with tools that share no code with it: Python's jsonschema, zipfile, tarfile, csv and html.parser,
xmllint (libxml2-utils), bsdtar (libarchive-tools), unzip, sha256sum (coreutils) and 7z (p7zip-full).
"""

from __future__ import annotations

import copy
import csv
import hashlib
import io
import json
import re
import sqlite3
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import pytest

import oracle
from bundle_helpers import (
    BOM, DATA_PATH, XSD, Page, bsdtar_list, dataset_portable, export_multiset, export_ok, field_portable,
    files_under, leaves, mixed_content, parse_sums, portable_multiset, read_any, run_export, schema_errors,
    schema_for, seven_zip_extract, seven_zip_test, sh, stdout_paths, tool, unpack, validator, xmllint_schema,
    zip_aes_strengths,
)
from conftest import EX_USAGE, MINI_MAP, WITHHELD, assert_one_line_error, build_mini, data_files

ZOFIA = "zofia.wisniewska@example.pl"
ZOFIA_INVOICES = ("FV/2023/0412", "FV/2024/0088")
NOBODY = "nobody@example.net"
FIXED = ("manifest.json", "information.json", "index.html", "SHA256SUMS")
KIB = 1024


# =========================================================================== the bundles under test

@dataclass(frozen=True)
class Case:
    map: str                 # "samples" or "chinook"
    identifiers: tuple
    extra: tuple = ()
    language: str = "pl"
    kind: str = "access"
    customer: int | None = None   # Chinook CustomerId


CASES = {
    "zofia": Case("samples", (("email", ZOFIA),)),
    "zofia-en": Case("samples", (("email", ZOFIA),), ("--language", "en"), language="en"),
    "nobody": Case("samples", (("email", NOBODY),)),
    "chinook-1": Case("chinook", (("email", "luisg@embraer.com.br"),), language="en", customer=1),
    "chinook-2": Case("chinook", (("phone", "+49 711 2842222"),), language="en", customer=2),
    "zofia-portability": Case("samples", (("email", ZOFIA),), ("--kind", "portability"), kind="portability"),
}


@dataclass
class Bundle:
    name: str
    case: Case
    map_path: Path
    archive: Path
    entries: dict        # entry name -> bytes (Python's zipfile)
    root: Path           # unpacked with bsdtar

    def json(self, name):
        return json.loads(self.entries[name].decode("utf-8"))


@pytest.fixture(scope="module")
def bundle(request, dossier, tmp_path_factory):
    """bundle(case name) -> Bundle; each case is exported once per module."""
    cache: dict[str, Bundle] = {}

    def get(name: str) -> Bundle:
        if name not in cache:
            case = CASES[name]
            map_path = request.getfixturevalue("samples_map" if case.map == "samples" else "chinook_map")
            base = tmp_path_factory.mktemp(f"bundle-{name}")
            archive, _ = export_ok(dossier, map_path, list(case.identifiers), base / "out", *case.extra,
                                   request_id=f"B-{name}")
            cache[name] = Bundle(name, case, map_path, archive, read_any(archive), unpack(archive, base / "unpacked"))
        return cache[name]
    return get


def person_texts(b: Bundle) -> list[str]:
    """Values of the person's own data that index.html must show."""
    if b.case.map == "samples":
        return [] if b.name == "nobody" else ["Zofia", ZOFIA_INVOICES[0]]
    conn = sqlite3.connect(f"file:{b.map_path.parent / 'chinook.sqlite'}?mode=ro", uri=True)
    try:
        first, last, email = conn.execute("SELECT FirstName, LastName, Email FROM Customer WHERE CustomerId = ?",
                                          (b.case.customer,)).fetchone()
    finally:
        conn.close()
    return [first, last, email]


# =========================================================================== the schemas themselves

def test_schemas_are_valid_schemas():
    for name in ("manifest", "information", "dataset"):
        validator(name)   # Draft202012Validator.check_schema
    assert XSD.is_file()


VALID_DATASET = {
    "schema_version": 1, "source": "crm", "dataset": "contacts", "count": 1,
    "records": [{"id": 1, "name": "Anna", "balance": -12.5, "photo": {"base64": "AP8Q"}, "tags": ["a", "b"],
                 "billing": {"city": "Warszawa"}, "referrer": WITHHELD, "note": None, "active": True}],
}

DATA_FILES = [f"data/crm/contacts.{e}" for e in ("csv", "json", "xml", "xlsx")]
VALID_MANIFEST = {
    "schema_version": 1, "tool": {"name": "dossier", "version": "0.1.0"}, "request_id": "R-2026.001_a",
    "kind": "access", "generated_at": "2026-01-02T03:04:05Z", "delivery": False, "copy": None,
    "has_data": True,
    "identifiers": {"given": [{"kind": "email", "value": "anna@example.pl"}],
                    "matched": [{"kind": "email", "value": "anna@example.pl", "round": 0},
                                {"kind": "crm_id", "value": "1", "round": 1, "from": "crm/contacts", "records": 1}]},
    "resolution": {"rounds": 2, "max_rounds": 5, "capped": False},
    "datasets": [{"source": "crm", "dataset": "contacts", "count": 1, "files": DATA_FILES},
                 {"source": "crm", "dataset": "notes", "count": 0, "files": []}],
    "files": [{"path": "information.json", "sha256": "0" * 64, "bytes": 10},
              {"path": "index.html", "sha256": "1" * 64, "bytes": 10}]
             + [{"path": p, "sha256": "a" * 64, "bytes": 100, "records": 1} for p in DATA_FILES],
    "matches": [{"source": "crm", "dataset": "contacts", "record": 0,
                 "identifier": {"kind": "email", "value": "anna@example.pl"}, "round": 1}],
}

RIGHTS = ("rectification", "erasure", "restriction", "objection", "complaint")
VALID_INFORMATION = {
    "schema_version": 1, "language": "en", "kind": "access", "has_data": True, "withheld_third_party": True,
    "controller": {"name": "Mini Sp. z o.o.", "address": "ul. Testowa 1, 00-001 Warszawa",
                   "email": "privacy@mini.example", "dpo": {"email": "dpo@mini.example"}},
    "purposes": [{"id": "service", "title": "Providing the service", "legal_basis": "contract",
                  "datasets": ["crm/contacts"]},
                 {"id": "profiling", "title": "Profiling", "legal_basis": "legitimate_interests",
                  "legitimate_interest": "Offers that fit", "datasets": ["crm/contacts"],
                  "automated_decision": {"logic": "A score", "consequences": "Fewer offers"}}],
    "categories": [{"id": "contact", "title": "Contact details"}],
    "recipients": [{"id": "mailer", "title": "Mailing provider", "country": "US", "third_country": True,
                    "safeguard": "Standard contractual clauses",
                    "transfer_basis": {"article": "46", "kind": "safeguard", "safeguard": "Standard contractual clauses"},
                    "datasets": ["crm/contacts"]},
                   {"id": "hosting", "title": "Hosting", "country": "DE", "third_country": False}],
    "retention": [{"dataset": "crm/contacts", "period": "P1Y", "criteria": "One year"}],
    "origins": [{"dataset": "crm/contacts", "origin": "subject",
                 "fields": [{"field": "last_ip", "origin": "observed"}]},
                {"dataset": "crm/referrals", "origin": "third_party", "from": "The person who referred you"}],
    "automated_decisions": [{"purpose": "profiling", "logic": "A score", "consequences": "Fewer offers"}],
    "rights": [{"right": r, "text": f"You may ask for {r}."} for r in RIGHTS],
    "supervisory_authority": {"name": "Prezes Urzędu Ochrony Danych Osobowych", "website": "https://uodo.gov.pl"},
}


def mutated(doc, *changes):
    """A deep copy of `doc` with changes applied: (path tuple, value) sets, (path tuple, DEL) deletes."""
    doc = copy.deepcopy(doc)
    for path, value in changes:
        target = doc
        for p in path[:-1]:
            target = target[p]
        if value is DEL:
            del target[path[-1]]
        else:
            target[path[-1]] = value
    return doc


DEL = object()

INVALID = {
    "dataset": [
        ("an unknown top-level key", ((("extra",), 1),)),
        ("schema_version 2", ((("schema_version",), 2),)),
        ("no count", ((("count",), DEL),)),
        ("records not a list", ((("records",), {"a": 1}),)),
        ("a record that is not an object", ((("records",), [[1, 2]]),)),
        ("a source id with a slash", ((("source",), "crm/x"),)),
        ("a negative count", ((("count",), -1),)),
    ],
    "manifest": [
        ("an unknown top-level key", ((("extra",), 1),)),
        ("kind erasure", ((("kind",), "erasure"),)),
        ("generated_at not in UTC", ((("generated_at",), "2026-01-02T05:04:05+02:00"),)),
        ("generated_at not a time", ((("generated_at",), "yesterday"),)),
        ("a request id that escapes", ((("request_id",), "../x"),)),
        ("an upper-case sha256", ((("files", 0, "sha256"), "A" * 64),)),
        ("a file path outside the bundle layout", ((("files", 0, "path"), "../etc/passwd"),)),
        ("a data file without its record count", ((("files", 2, "records"), DEL),)),
        ("an access export that excludes a dataset", ((("datasets", 1, "excluded"), "not portable: x"),)),
        ("has_data false with a record", ((("has_data",), False),)),
        ("a delivery without its copy number", ((("delivery",), True),)),
        ("a dataset with records and no files", ((("datasets", 0, "files"), []),)),
        ("an unknown key in a dataset entry", ((("datasets", 0, "size"), 3),)),
        ("a match in round 0", ((("matches", 0, "round"), 0),)),
        ("no identifier given", ((("identifiers", "given"), []),)),
    ],
    "information": [
        ("no withheld_third_party", ((("withheld_third_party",), DEL),)),
        ("an unknown top-level key", ((("extra",), 1),)),
        ("a third country without its transfer basis", ((("recipients", 0, "transfer_basis"), DEL),)),
        ("a transfer basis inside the EEA", ((("recipients", 1, "transfer_basis"),
                                              {"article": "46", "kind": "safeguard", "safeguard": "SCC"}),)),
        ("an adequacy decision without its act", ((("recipients", 0, "transfer_basis"),
                                                   {"article": "45", "kind": "adequacy_decision", "adopted": "2023-07-10"}),)),
        ("neither country nor organisation", ((("recipients", 1, "country"), DEL),)),
        ("legitimate interests without the interest", ((("purposes", 1, "legitimate_interest"), DEL),)),
        ("a third-party origin without its source", ((("origins", 1, "from"), DEL),)),
        ("no right to complain", ((("rights",), [{"right": r, "text": "x"} for r in RIGHTS[:-1]]),)),
        ("a portability export without its explanation", ((("kind",), "portability"),
                                                           (("withheld_third_party",), False))),
        ("retention with neither period nor criteria", ((("retention", 0), {"dataset": "crm/contacts"}),)),
        ("a bad legal basis", ((("purposes", 0, "legal_basis"), "because"),)),
        ("an untranslated title", ((("purposes", 0, "title"), {"en": "Providing the service"}),)),
        ("has_data false with purposes", ((("has_data",), False),)),
        ("a language that is no code", ((("language",), "Polish"),)),
        ("a controller without the DPO", ((("controller", "dpo"), DEL),)),
    ],
}


def test_schemas_accept_the_contract_examples():
    for name, doc in (("dataset", VALID_DATASET), ("manifest", VALID_MANIFEST), ("information", VALID_INFORMATION)):
        assert schema_errors(validator(name), doc) == [], f"{name}: a valid example is rejected"
    portability = mutated(VALID_MANIFEST, (("kind",), "portability"),
                          (("datasets", 1, "excluded"), "not portable: derived data"))
    assert schema_errors(validator("manifest"), portability) == []
    delivery = mutated(VALID_MANIFEST, (("delivery",), True), (("copy",), 2))
    assert schema_errors(validator("manifest"), delivery) == []
    nothing = mutated(VALID_MANIFEST, (("has_data",), False), (("datasets", 0, "count"), 0),
                      (("datasets", 0, "files"), []), (("files",), VALID_MANIFEST["files"][:2]),
                      (("matches",), []), (("identifiers", "matched"), []))
    assert schema_errors(validator("manifest"), nothing) == []
    info = mutated(VALID_INFORMATION, (("kind",), "portability"), (("withheld_third_party",), False),
                   (("portability",), {"explanation": "Only the data you gave us, on consent or contract."}))
    assert schema_errors(validator("information"), info) == []


@pytest.mark.parametrize("name,label,changes", [(n, label, ch) for n, cases in INVALID.items() for label, ch in cases],
                         ids=[f"{n}: {label}" for n, cases in INVALID.items() for label, _ in cases])
def test_schemas_reject(name, label, changes):
    valid = {"dataset": VALID_DATASET, "manifest": VALID_MANIFEST, "information": VALID_INFORMATION}[name]
    assert schema_errors(validator(name), mutated(valid, *changes)), f"{name}.schema.json accepts {label}"


XML_HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n'
XML_VALID = ('<dataset schema_version="1" source="crm" name="contacts" count="2">'
             '<record><field name="Email Address">anna@example.pl</field>'
             '<field name="billing"><field name="city">Warszawa</field><field name="zip"></field></field>'
             '<field name="tags"><item>a</item><item><field name="k">v</field></item><item><item>x</item></item>'
             '<item null="true"/></field>'
             '<field name="referrer" null="true"></field><field name="photo" encoding="base64">AP8Q</field></record>'
             '<record/></dataset>')
XML_INVALID = {
    "a field without a name": '<dataset schema_version="1" source="s" name="d" count="1"><record><field>x</field></record></dataset>',
    "fields and items together": '<dataset schema_version="1" source="s" name="d" count="1"><record><field name="a"><field name="b">1</field><item>2</item></field></record></dataset>',
    "a field twice in a record": '<dataset schema_version="1" source="s" name="d" count="1"><record><field name="a">1</field><field name="a">2</field></record></dataset>',
    "a field twice in an object": '<dataset schema_version="1" source="s" name="d" count="1"><record><field name="a"><field name="b">1</field><field name="b">2</field></field></record></dataset>',
    "schema_version 2": '<dataset schema_version="2" source="s" name="d" count="0"/>',
    "no schema_version": '<dataset source="s" name="d" count="0"/>',
    "no count": '<dataset schema_version="1" source="s" name="d"/>',
    "an item directly in a record": '<dataset schema_version="1" source="s" name="d" count="1"><record><item>1</item></record></dataset>',
    "null=false": '<dataset schema_version="1" source="s" name="d" count="1"><record><field name="a" null="false"/></record></dataset>',
    "encoding=hex": '<dataset schema_version="1" source="s" name="d" count="1"><record><field name="a" encoding="hex">00</field></record></dataset>',
    "an unknown attribute": '<dataset schema_version="1" source="s" name="d" count="1"><record><field name="a" type="int">0</field></record></dataset>',
    "text in a record": '<dataset schema_version="1" source="s" name="d" count="1"><record>text<field name="a">0</field></record></dataset>',
    "a record in a record": '<dataset schema_version="1" source="s" name="d" count="1"><record><record/></record></dataset>',
    "another root": '<records/>',
}


def test_xsd_accepts_and_rejects(tmp_path):
    good = tmp_path / "good.xml"
    good.write_text(XML_HEAD + XML_VALID, encoding="utf-8")
    proc = xmllint_schema([good])
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    for i, (label, text) in enumerate(XML_INVALID.items()):
        f = tmp_path / f"bad{i}.xml"
        f.write_text(XML_HEAD + text, encoding="utf-8")
        assert xmllint_schema([f]).returncode != 0, f"dataset.xsd accepts {label}"


# =========================================================================== every file of real bundles

BUNDLES = list(CASES)


@pytest.mark.parametrize("name", BUNDLES)
def test_bundle_validates_against_the_schemas(bundle, name):
    b = bundle(name)
    validators = {}
    errors = []
    json_names = [n for n in b.entries if n.endswith(".json")]
    assert {"manifest.json", "information.json"} <= set(json_names)
    for entry in json_names:
        kind = schema_for(entry)
        v = validators.setdefault(kind, validator(kind))
        doc = b.json(entry)
        errors += [f"{entry} {e}" for e in schema_errors(v, doc)]
        m = DATA_PATH.fullmatch(entry)
        if m:   # what JSON Schema cannot say
            assert (doc["source"], doc["dataset"]) == (m.group(1), m.group(2)), f"{entry}: source/dataset"
            assert doc["count"] == len(doc["records"]), f"{entry}: count {doc['count']}, {len(doc['records'])} records"
    assert not errors, "schema errors:\n" + "\n".join(errors[:40])

    xml_names = sorted(n for n in b.entries if n.endswith(".xml"))
    assert all(DATA_PATH.fullmatch(n) for n in xml_names), xml_names
    if xml_names:
        proc = xmllint_schema([b.root / n for n in xml_names])
        assert proc.returncode == 0, f"xmllint --schema dataset.xsd: {proc.stderr.decode(errors='replace')[-3000:]}"
    for n in xml_names:
        root = ET.fromstring(b.entries[n])
        m = DATA_PATH.fullmatch(n)
        assert (root.get("source"), root.get("name")) == (m.group(1), m.group(2)), f"{n}: {root.attrib}"
        assert int(root.get("count")) == len(root.findall("record")), f"{n}: count {root.get('count')}"
        bad = mixed_content(root, n)
        assert not bad, f"text beside child elements in {bad[:5]}"
    if name != "nobody":
        assert xml_names, "a bundle with data has no XML file"


@pytest.mark.parametrize("name", BUNDLES)
def test_sha256sums(bundle, name):
    b = bundle(name)
    assert "SHA256SUMS" in b.entries, "the bundle has no SHA256SUMS"
    proc = sh("sha256sum", "--strict", "-c", "SHA256SUMS", cwd=b.root)
    assert proc.returncode == 0, f"sha256sum -c: {proc.stdout.decode(errors='replace')}{proc.stderr.decode(errors='replace')}"
    sums = parse_sums(b.entries["SHA256SUMS"])
    paths = [p for _, p in sums]
    assert set(paths) == set(b.entries) - {"SHA256SUMS"}, \
        f"SHA256SUMS lists {sorted(paths)}; the bundle holds {sorted(set(b.entries) - {'SHA256SUMS'})}"
    assert len(paths) == len(set(paths)), "a file listed twice"
    assert [p.encode() for p in paths] == sorted(p.encode() for p in paths), "paths are not sorted bytewise"
    for digest, path in sums:
        assert digest == hashlib.sha256(b.entries[path]).hexdigest(), path
    assert files_under(b.root) == b.entries, "bsdtar and zipfile disagree about the archive"


@pytest.mark.parametrize("name", BUNDLES)
def test_manifest_and_information_agree_with_the_bundle(bundle, name):
    b = bundle(name)
    m, info = b.json("manifest.json"), b.json("information.json")
    assert m["kind"] == info["kind"] == b.case.kind
    assert info["language"] == b.case.language
    files = {f["path"]: f for f in m["files"]}
    assert len(files) == len(m["files"]), "a file listed twice in the manifest"
    assert set(files) == set(b.entries) - {"manifest.json", "SHA256SUMS"}, \
        f"manifest files {sorted(files)}; the bundle holds {sorted(set(b.entries) - {'manifest.json', 'SHA256SUMS'})}"
    assert "index.html" in files
    for path, f in files.items():
        assert f["sha256"] == hashlib.sha256(b.entries[path]).hexdigest(), f"sha256 of {path}"
        assert f["bytes"] == len(b.entries[path]), f"bytes of {path}"
    # Art. 15(4): in an access export the flag says whether a marker replaced a value (a portability
    # export leaves such values out instead; the flag may then say that something was left out)
    marked = any(WITHHELD.encode() in body for n, body in b.entries.items() if n.startswith("data/"))
    if b.case.kind == "access":
        assert info["withheld_third_party"] is marked, \
            f"withheld_third_party is {info['withheld_third_party']}, a marker is {'' if marked else 'not '}in the data files"
    else:
        assert not marked, "a third-party marker in a portability export"
    if name in ("zofia", "zofia-en") or name.startswith("chinook"):
        assert marked, "the person's referral / support agent is third-party data: it must be withheld"


# =========================================================================== index.html

@pytest.mark.parametrize("name", BUNDLES)
def test_index_html(bundle, name):
    b = bundle(name)
    assert "index.html" in b.entries, "the bundle has no index.html"
    html = b.entries["index.html"].decode("utf-8")
    page = Page(html)
    assert page.saw_html, "index.html has no <html> element"
    assert page.lang == b.case.language, f"<html lang={page.lang!r}>, the request's language is {b.case.language!r}"
    remote = page.remote_references()
    assert not remote, f"index.html fetches from the network: {remote[:10]}"
    # links inside the page point at files of the bundle
    dangling = sorted(p for p in page.local_links() if p not in b.entries)
    assert not dangling, f"index.html links files the bundle does not hold: {dangling[:10]}"

    info = b.json("information.json")
    for text in person_texts(b):
        assert page.shows(text), f"index.html does not show the person's {text!r}"
    for p in info["purposes"]:
        assert page.shows(p["title"]), f"index.html does not name the purpose {p['title']!r}"
    assert page.shows(info["controller"]["name"]), "index.html does not name the controller"
    assert page.shows(info["supervisory_authority"]["name"]), "index.html does not name the supervisory authority"


def test_index_html_links_every_file(bundle):
    b = bundle("zofia")
    links = Page(b.entries["index.html"].decode("utf-8")).local_links()
    wanted = {n for n in b.entries if n.startswith("data/")} | {"manifest.json", "information.json"}
    missing = sorted(wanted - links)
    assert not missing, f"index.html does not link {missing[:10]}"


def test_index_html_languages_differ(bundle):
    """The same person in Polish and in English: the purposes in each language, and the pages differ."""
    pl, en = bundle("zofia"), bundle("zofia-en")
    assert pl.entries["index.html"] != en.entries["index.html"]
    pl_titles = {p["id"]: p["title"] for p in pl.json("information.json")["purposes"]}
    en_titles = {p["id"]: p["title"] for p in en.json("information.json")["purposes"]}
    assert pl_titles.keys() == en_titles.keys()
    assert pl_titles["training"] != en_titles["training"]
    assert Page(en.entries["index.html"].decode("utf-8")).shows(en_titles["training"])
    assert not Page(en.entries["index.html"].decode("utf-8")).shows(pl_titles["training"]), \
        "the English page shows the Polish purpose title"


# =========================================================================== portability

def check_portability(entries: dict, map_path: Path, identifiers) -> set:
    """Every rule of a portability export against the data map and the oracle; returns the
    (source, dataset) pairs that hold data files."""
    dmap = oracle.load_map(str(map_path))
    expected = oracle.resolve(str(map_path), list(identifiers))
    m = json.loads(entries["manifest.json"])
    info = json.loads(entries["information.json"])
    assert m["kind"] == info["kind"] == "portability"
    assert isinstance(info.get("portability"), dict) and str(info["portability"].get("explanation", "")).strip(), \
        "information.json does not explain what a portability export holds"
    files = data_files(entries)
    listed = {(x["source"], x["dataset"]): x for x in m["datasets"]}
    assert set(listed) == {(s, d) for s, d, _, _ in oracle.datasets(dmap)}, "the manifest does not list every dataset"

    for sid, did, _, ds in oracle.datasets(dmap):
        sd, entry = (sid, did), listed[(sid, did)]
        if not dataset_portable(dmap, ds):
            assert str(entry.get("excluded", "")).startswith("not portable"), \
                f"{sid}/{did} (origin {ds.get('origin')}, purposes {ds.get('purposes')}) is not excluded: {entry}"
            assert entry["count"] == 0 and entry["files"] == [], f"{sid}/{did} is excluded but lists {entry}"
            assert sd not in files, f"the excluded dataset {sid}/{did} has files"
            continue
        assert "excluded" not in entry, f"{sid}/{did} is portable but excluded: {entry['excluded']}"
        want = expected.records[sd]
        assert entry["count"] == len(want), f"{sid}/{did}: count {entry['count']}, oracle {len(want)}"
        if not want:
            assert sd not in files
            continue
        assert set(files.get(sd, {})) == {"json", "csv", "xml", "xlsx"}, f"{sid}/{did}: files {sorted(files.get(sd, {}))}"
        doc = json.loads(files[sd]["json"])
        recs = doc["records"]
        for r in recs:
            for p in leaves(r):
                assert field_portable(ds, p), f"{sid}/{did}.json: the field {p!r} is not portable"
        got, exp = export_multiset(recs), portable_multiset(ds, want)
        assert got == exp, (f"{sid}/{did}: records differ from the oracle's portable fields\n"
                            f"only in the export: {sorted((got - exp).elements())[:3]}\n"
                            f"only in the oracle: {sorted((exp - got).elements())[:3]}")
        text = files[sd]["csv"].decode("utf-8")
        header = next(csv.reader(io.StringIO(text[1:] if text.startswith("\ufeff") else text, newline="")))
        for col in header:
            assert field_portable(ds, col), f"{sid}/{did}.csv: the column {col!r} is not portable"
        for rec in ET.fromstring(files[sd]["xml"]).findall("record"):
            stack = [(f, f.get("name")) for f in rec.findall("field")]
            while stack:
                f, path = stack.pop()
                assert field_portable(ds, path), f"{sid}/{did}.xml: the field {path!r} is not portable"
                stack += [(c, f"{path}.{c.get('name')}") for c in f.findall("field")]
    for name, body in entries.items():
        if name.startswith("data/"):
            assert WITHHELD.encode() not in body, f"{name} holds a third-party marker in a portability export"
    return set(files)


def test_portability_sample_person(bundle):
    b = bundle("zofia-portability")
    held = check_portability(b.entries, b.map_path, b.case.identifiers)
    # the contact card and the newsletter subscription are hers; profiling results, invoices
    # (derived) and the referral (third party) are not portable
    assert {("crm", "contacts"), ("mailing", "subscribers"), ("training", "enrolments")} <= held
    assert not held & {("crm", "profiling_segments"), ("crm", "referrals")}
    # invoices stay: their billing fields are described as given by the person, under a contract
    assert ("training", "invoices") in held
    contact = json.loads(data_files(b.entries)[("crm", "contacts")]["json"])["records"][0]
    assert contact["first_name"] == "Zofia" and "last_ip" not in contact


def test_portability_leaves_out_purposes_without_consent_or_contract(dossier, tmp_path):
    """A dataset of observed data kept only for a legitimate interest is not portable."""
    marker = "      logins:\n"
    head, tail = MINI_MAP.split(marker)
    assert "purposes: [service]" in tail
    text = (head.replace("purposes:\n", "purposes:\n  security:\n    title: { en: Keeping accounts secure }\n"
                         "    legal_basis: legitimate_interests\n"
                         "    legitimate_interest: { en: Detecting break-ins }\n", 1)
            + marker + tail.replace("purposes: [service]", "purposes: [security]", 1))
    mini = build_mini(tmp_path / "mini", map_text=text)
    anna = [("email", "anna@example.pl")]
    archive, _ = export_ok(dossier, mini, anna, tmp_path / "out", "--kind", "portability", request_id="PORT-MINI")
    entries = read_any(archive)
    held = check_portability(entries, mini, anna)
    assert ("events", "logins") not in held
    assert {("crm", "contacts"), ("lists", "subscribers"), ("contests", "entries")} <= held
    contact = json.loads(data_files(entries)[("crm", "contacts")]["json"])["records"][0]
    assert "referrer" not in contact and contact["name"] == "Anna Nowak"
    for name in ("manifest", "information"):
        doc = json.loads(entries[f"{name}.json"])
        assert schema_errors(validator(name), doc) == [], f"{name}.json: {schema_errors(validator(name), doc)[:5]}"


# =========================================================================== archive formats

@pytest.mark.parametrize("fmt", ["tar.gz", "tar.zst"])
def test_tar_formats_hold_the_same_entries_as_the_zip(dossier, samples_map, tmp_path, fmt):
    ids = [("email", ZOFIA)]
    zip_path, _ = export_ok(dossier, samples_map, ids, tmp_path / "zip", request_id="FMT-1")
    path, _ = export_ok(dossier, samples_map, ids, tmp_path / "tar", "--format", fmt, request_id="FMT-1")
    assert path.name == f"dossier-FMT-1.{fmt}"
    magic = b"\x28\xb5\x2f\xfd" if fmt == "tar.zst" else b"\x1f\x8b"
    assert path.read_bytes().startswith(magic), f"{path.name} does not start with the {fmt} magic"
    listed = bsdtar_list(path)
    reference = read_any(zip_path)
    assert sorted(listed) == sorted(reference), f"bsdtar lists {sorted(listed)}"
    assert read_any(path) == reference, f"the {fmt} entries differ from the zip's"


# ---------------------------------------------------------------- encryption

PASSPHRASE = "Tr0ub4dor&3-zebra-kiwi"


def test_encrypt_with_passphrase_file(dossier, samples_map, tmp_path):
    ids = [("email", ZOFIA)]
    secret = tmp_path / "secret.txt"
    secret.write_text(f"  {PASSPHRASE}  \nnot the passphrase\n", encoding="utf-8")
    path, proc = export_ok(dossier, samples_map, ids, tmp_path / "enc", "--encrypt", "--passphrase-file", secret,
                           request_id="ENC-1", env_extra={"DOSSIER_LOG_LEVEL": "debug"})
    assert path.name == "dossier-ENC-1.zip"
    assert PASSPHRASE not in proc.stderr and PASSPHRASE not in proc.stdout, "the passphrase from the file was printed"
    assert not re.search(r"^passphrase:", proc.stderr, re.M), "a passphrase line although the file gave it"

    assert seven_zip_test(path, PASSPHRASE).returncode == 0, "7-Zip does not open the archive with the passphrase"
    assert seven_zip_test(path, "wrong").returncode != 0, "7-Zip opens the archive with a wrong passphrase"
    assert seven_zip_test(path, f"  {PASSPHRASE}  ").returncode != 0, "the passphrase was not trimmed"
    strengths = zip_aes_strengths(path)
    assert strengths and all(s == 3 for s in strengths.values()), f"not every entry is AES-256: {strengths}"

    reference = read_any(export_ok(dossier, samples_map, ids, tmp_path / "plain", request_id="ENC-1")[0])
    assert sorted(bsdtar_list(path)) == sorted(reference), "bsdtar does not list the encrypted archive's entries"
    assert seven_zip_extract(path, PASSPHRASE, tmp_path / "x") == reference, \
        "the decrypted entries differ from the unencrypted export's"


def test_encrypt_with_a_generated_passphrase(dossier, samples_map, tmp_path):
    ids = [("email", ZOFIA)]
    found = []
    for i in (1, 2):
        path, proc = export_ok(dossier, samples_map, ids, tmp_path / f"enc{i}", "--encrypt", request_id="ENC-2",
                               env_extra={"DOSSIER_LOG_LEVEL": "debug"})
        lines = [line for line in proc.stderr.splitlines() if line.startswith("passphrase:")]
        assert len(lines) == 1, f"expected one `passphrase: ...` line on stderr, got {len(lines)}: {proc.stderr!r}"
        secret = lines[0][len("passphrase:"):].strip()
        assert secret, "an empty passphrase"
        assert sum(secret in line for line in proc.stderr.splitlines()) == 1, "the passphrase is in the logs too"
        assert secret not in proc.stdout, "the passphrase is on stdout"
        assert seven_zip_test(path, secret).returncode == 0, "the printed passphrase does not open the archive"
        assert seven_zip_test(path, secret + "x").returncode != 0, "a wrong passphrase opens the archive"
        assert sorted(bsdtar_list(path)), "bsdtar lists nothing"
        found.append(secret)
    assert found[0] != found[1], "two runs generated the same passphrase"


@pytest.mark.parametrize("extra", [("--encrypt", "--format", "tar.gz"), ("--encrypt", "--format", "tar.zst"),
                                   ("--passphrase-file", "{secret}", "--format", "tar.gz")],
                         ids=["encrypt-tar.gz", "encrypt-tar.zst", "passphrase-file-tar.gz"])
def test_encrypt_needs_zip(dossier, samples_map, tmp_path, extra):
    secret = tmp_path / "secret.txt"
    secret.write_text(PASSPHRASE + "\n", encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    proc = run_export(dossier, samples_map, [("email", ZOFIA)], out, *[a.format(secret=secret) for a in extra])
    assert_one_line_error(proc, EX_USAGE)
    assert PASSPHRASE not in proc.stderr
    assert not [p.name for p in out.iterdir()], f"an archive was written: {[p.name for p in out.iterdir()]}"


# ---------------------------------------------------------------- splitting

def test_split_size(dossier, samples_map, tmp_path):
    ids = [("email", ZOFIA)]
    reference = read_any(export_ok(dossier, samples_map, ids, tmp_path / "whole", request_id="SPLIT-1")[0])
    out = tmp_path / "parts"
    out.mkdir()
    proc = run_export(dossier, samples_map, ids, out, "--split-size", "20K", request_id="SPLIT-1")
    assert proc.returncode == 0, f"export --split-size failed ({proc.returncode}): {proc.stderr}"
    parts = stdout_paths(proc, out)
    assert len(parts) >= 2, f"expected several parts, stdout: {proc.stdout!r}"
    assert [p.name for p in parts] == [f"dossier-SPLIT-1.part{i}.zip" for i in range(1, len(parts) + 1)], \
        f"parts are not listed in order: {[p.name for p in parts]}"
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in parts), \
        f"the output folder holds {sorted(p.name for p in out.iterdir())}"

    union: dict[str, bytes] = {}
    for i, part in enumerate(parts, 1):
        t = sh(tool("unzip", "unzip"), "-t", part)
        assert t.returncode == 0, f"unzip -t {part.name}: {t.stdout.decode(errors='replace')[-1000:]}"
        listed = bsdtar_list(part)
        entries = read_any(part)
        assert entries, f"{part.name} is empty"
        assert sorted(listed) == sorted(entries), f"bsdtar and zipfile disagree about {part.name}"
        twice = set(entries) & set(union)
        assert not twice, f"{sorted(twice)} in two parts"
        union.update(entries)
        fixed = [n for n in FIXED if n in entries]
        if i == 1:
            assert fixed == list(FIXED), f"part 1 holds {sorted(entries)}, not all of {FIXED}"
        else:
            assert not fixed, f"{part.name} holds {fixed}"
        others = len(entries) - len(fixed)
        if others > 1:   # a file bigger than the size gets a part of its own
            assert part.stat().st_size <= 20 * KIB, f"{part.name} is {part.stat().st_size} bytes, over 20K"
    assert union.keys() == reference.keys(), \
        f"the parts hold {sorted(union.keys() ^ reference.keys())} differently from the whole archive"
    for name, body in reference.items():
        assert union[name] == body, f"{name} differs between the parts and the whole archive"


# ---------------------------------------------------------------- determinism

@pytest.mark.parametrize("fmt", ["zip", "tar.gz", "tar.zst"])
def test_archives_are_deterministic(dossier, samples_map, tmp_path, fmt):
    ids = [("email", ZOFIA)]
    first, _ = export_ok(dossier, samples_map, ids, tmp_path / "one", "--format", fmt, request_id="DET-1",
                         as_of="2026-01-31T09:00:00Z")
    time.sleep(1.1)   # a clock-based entry time would now differ
    second, _ = export_ok(dossier, samples_map, ids, tmp_path / "two", "--format", fmt, request_id="DET-1",
                          as_of="2026-01-31T09:00:00Z")
    assert first.name == second.name == f"dossier-DET-1.{fmt}"
    a, b = first.read_bytes(), second.read_bytes()
    assert a == b, f"two {fmt} runs differ ({len(a)} vs {len(b)} bytes, first difference at byte " \
                   f"{next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))})"


# ---------------------------------------------------------------- CSV with a byte order mark

def test_csv_bom(dossier, samples_map, tmp_path):
    ids = [("email", ZOFIA)]
    plain = read_any(export_ok(dossier, samples_map, ids, tmp_path / "plain", request_id="BOM-1")[0])
    bom = read_any(export_ok(dossier, samples_map, ids, tmp_path / "bom", "--csv-bom", request_id="BOM-1")[0])
    assert plain.keys() == bom.keys()
    csvs = sorted(n for n in bom if n.endswith(".csv"))
    assert csvs, "no CSV file"
    for n in csvs:
        assert bom[n].startswith(BOM), f"{n} does not start with EF BB BF"
        assert not bom[n][3:].startswith(BOM), f"{n} starts with two BOMs"
        assert not plain[n].startswith(BOM), f"{n} has a BOM without --csv-bom"
        rows_bom = list(csv.reader(io.StringIO(bom[n].decode("utf-8-sig"), newline=""), strict=True))
        rows_plain = list(csv.reader(io.StringIO(plain[n].decode("utf-8"), newline=""), strict=True))
        assert rows_bom == rows_plain, f"{n}: the rows differ with --csv-bom"
        assert bom[n][3:] == plain[n], f"{n}: --csv-bom changed more than the first bytes"
    for n in bom:
        if n.startswith("data/") and not n.endswith(".csv"):
            assert bom[n] == plain[n], f"{n} changed with --csv-bom"
    manifest = json.loads(bom["manifest.json"])
    for f in manifest["files"]:
        assert f["sha256"] == hashlib.sha256(bom[f["path"]]).hexdigest(), f"manifest sha256 of {f['path']}"
