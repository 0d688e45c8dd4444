"""Lookup indexes of file sources (`dossier index`, `--index-dir`, `index.path`): built in one pass,
used while fresh, rebuilt when stale, never trusted blindly: a record read back through an index is
checked again, so an index that missed an edit cannot put someone else's record in a bundle."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import sqlite3
import stat
import struct
from pathlib import Path

import pytest

from conftest import (EX_NOINPUT, EX_USAGE, SAMPLES_MAP, assert_one_line_error, build_mini, export,
                      read_archive, run)

ANNA = "anna@example.pl"


def index_lines(proc) -> dict[str, str]:
    """`index: SOURCE: STATE` lines -> {source: state}."""
    assert proc.returncode == 0, proc.stderr
    out = {}
    for line in proc.stdout.splitlines():
        if line.startswith("index: "):
            source, state = line[len("index: "):].split(": ", 1)
            out[source] = state
    return out


def mk(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def records(archive: Path, source: str, dataset: str) -> list[dict]:
    entries = read_archive(archive)
    name = f"data/{source}/{dataset}.json"
    return json.loads(entries[name])["records"] if name in entries else []


def counts(archive: Path) -> dict[str, int]:
    manifest = json.loads(read_archive(archive)["manifest.json"])
    return {f"{d['source']}/{d['dataset']}": d["count"] for d in manifest["datasets"]}


def test_index_builds_every_file_source_once_then_is_fresh(dossier, mini_map, tmp_path):
    folder = tmp_path / "idx"
    first = index_lines(run(dossier, "index", "--config", mini_map, "--index-dir", folder))
    assert first["crm"].startswith("no index needed")
    # lists.csv: 2 rows, each found by e-mail and by phone; events.jsonl: 4 records, 3 of them logins.
    assert first["lists"].startswith("built (missing): 2 records, 4 entries"), first["lists"]
    assert first["events"].startswith("built (missing): 4 records, 3 entries"), first["events"]
    # entries.xml: 2 <entry> records, each found by e-mail.
    assert first["contests"].startswith("built (missing): 2 records, 2 entries"), first["contests"]
    for name in ("lists.index.sqlite", "events.index.sqlite", "contests.index.sqlite"):
        path = folder / name
        assert path.is_file()
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in folder.iterdir()) == ["contests.index.sqlite", "events.index.sqlite", "lists.index.sqlite"], \
        "a temporary file was left"
    second = index_lines(run(dossier, "index", "--config", mini_map, "--index-dir", folder))
    assert second["lists"] == "fresh" and second["events"] == "fresh" and second["contests"] == "fresh"


def test_index_holds_normalised_lookup_values(dossier, mini_map, tmp_path):
    """The index is a SQLite file an operator can open: every entry points at a real record."""
    folder = tmp_path / "idx"
    index_lines(run(dossier, "index", "--config", mini_map, "--index-dir", folder))
    conn = sqlite3.connect(folder / "lists.index.sqlite")
    rows = conn.execute("SELECT offset, length FROM entries ORDER BY offset").fetchall()
    files = conn.execute("SELECT path, size FROM files").fetchall()
    conn.close()
    data = (mini_map.parent / "lists.csv").read_bytes()
    assert files == [(str(mini_map.parent / "lists.csv"), len(data))]
    header_end = data.index(b"\r\n") + 2
    # Two rows, two entries each (e-mail, phone), each range exactly one CSV row with its line end.
    assert sorted(set(rows)) == [(header_end, data.index(b"\r\n", header_end) + 2 - header_end),
                                 (data.index(b"\r\n", header_end) + 2, len(data) - data.index(b"\r\n", header_end) - 2)]
    assert len(rows) == 4


def test_no_index_folder_is_a_usage_error(dossier, mini_map):
    proc = run(dossier, "index", "--config", mini_map)
    assert_one_line_error(proc, EX_USAGE, "--index-dir", "index.path")


def test_indexed_exports_are_byte_identical_to_scanned_ones(dossier, mini_map, tmp_path):
    folder = tmp_path / "idx"
    index_lines(run(dossier, "index", "--config", mini_map, "--index-dir", folder))
    for who in ([("email", ANNA)], [("phone", "22 122 86 17")], [("email", "jan@example.pl")], [("email", "nobody@example.pl")]):
        scanned = export(dossier, mini_map, who, mk(tmp_path / "scan"), request_id="R-1")
        proc = run(dossier, "export", "--config", mini_map, *sum((["--" + k, v] for k, v in who), []), "--out", tmp_path / "ix",
                   "--request-id", "R-1", "--as-of", "2026-01-02T03:04:05Z", "--index-dir", folder)
        assert proc.returncode == 0, proc.stderr
        indexed = Path(proc.stdout.splitlines()[-1])
        assert indexed.read_bytes() == scanned.read_bytes(), f"{who}: the indexed export differs from the scanned one"
    assert counts(indexed)["lists/subscribers"] == 0


def test_samples_indexed_exports_match_scanned_ones(dossier, tmp_path):
    """Every subscriber of the sample mailing list, exported through indexes and by scanning."""
    folder = tmp_path / "idx"
    built = index_lines(run(dossier, "index", "--config", SAMPLES_MAP, "--index-dir", folder))
    assert built["mailing"].startswith("built (missing)") and built["training"].startswith("built (missing)")
    with open(SAMPLES_MAP.parent / "mailing" / "subscribers.csv", newline="", encoding="utf-8") as f:
        emails = sorted({row["Email Address"].strip().lower() for row in csv.DictReader(f)})[:12]
    assert len(emails) == 12
    for n, email in enumerate(emails):
        rid = f"R-{n}"
        scanned = export(dossier, SAMPLES_MAP, [("email", email)], mk(tmp_path / "scan"), request_id=rid)
        proc = run(dossier, "export", "--config", SAMPLES_MAP, "--email", email, "--out", tmp_path / "ix",
                   "--request-id", rid, "--as-of", "2026-01-02T03:04:05Z", "--index-dir", folder)
        assert proc.returncode == 0, proc.stderr
        assert Path(proc.stdout.splitlines()[-1]).read_bytes() == scanned.read_bytes(), email


def test_index_path_in_the_map_is_where_indexes_live(dossier, tmp_path):
    from conftest import MINI_MAP
    map_path = build_mini(tmp_path / "m", map_text=MINI_MAP + "index: { path: idx }\n")
    first = index_lines(run(dossier, "index", "--config", map_path))
    assert first["lists"].startswith("built")
    index_file = tmp_path / "m" / "idx" / "lists.index.sqlite"
    assert index_file.is_file()
    proc = run(dossier, "validate", "--config", map_path)
    assert proc.returncode == 0 and "note: index" not in proc.stdout, proc.stdout
    # An export without --index-dir finds the map's folder: the stale index is rebuilt in it.
    with open(tmp_path / "m" / "lists.csv", "a", encoding="utf-8", newline="") as f:
        f.write("Anna@example.pl,Anna again,,\r\n")
    built_at = index_file.stat().st_mtime_ns
    archive = export(dossier, map_path, [("email", ANNA)], mk(tmp_path / "o"))
    assert counts(archive)["lists/subscribers"] == 2
    assert index_file.stat().st_mtime_ns != built_at, "the export did not rebuild the map's stale index"


def test_validate_names_missing_and_stale_indexes(dossier, mini_map, tmp_path):
    folder = tmp_path / "idx"
    proc = run(dossier, "validate", "--config", mini_map, "--index-dir", folder)
    assert proc.returncode == 0, proc.stderr
    assert "note: index of lists: missing" in proc.stdout and "note: index of events: missing" in proc.stdout
    assert "note: index of contests: missing" in proc.stdout
    assert not folder.exists() or not any(folder.iterdir()), "validate built an index"
    index_lines(run(dossier, "index", "--config", mini_map, "--index-dir", folder))
    with open(mini_map.parent / "lists.csv", "a", encoding="utf-8", newline="") as f:
        f.write("ewa@example.pl,Ewa,,\r\n")
    proc = run(dossier, "validate", "--config", mini_map, "--index-dir", folder)
    assert "note: index of lists: stale: lists.csv changed size" in proc.stdout, proc.stdout
    assert "note: index of events" not in proc.stdout


def test_a_stale_index_is_rebuilt_by_an_export(dossier, mini_map, tmp_path):
    folder = tmp_path / "idx"
    index_lines(run(dossier, "index", "--config", mini_map, "--index-dir", folder))
    with open(mini_map.parent / "lists.csv", "a", encoding="utf-8", newline="") as f:
        f.write("Anna@example.pl,Anna again,,\r\n")
    proc = run(dossier, "export", "--config", mini_map, "--email", ANNA, "--out", tmp_path / "o", "--index-dir", folder)
    assert proc.returncode == 0, proc.stderr
    assert counts(Path(proc.stdout.splitlines()[-1]))["lists/subscribers"] == 2
    assert index_lines(run(dossier, "index", "--config", mini_map, "--index-dir", folder))["lists"] == "fresh"


def test_a_changed_map_makes_the_index_stale(dossier, mini_map, tmp_path):
    folder = tmp_path / "idx"
    index_lines(run(dossier, "index", "--config", mini_map, "--index-dir", folder))
    text = mini_map.read_text(encoding="utf-8").replace("lookup: { email: Email Address, phone: Phone }",
                                                       "lookup: { email: Email Address }")
    mini_map.write_text(text, encoding="utf-8")
    again = index_lines(run(dossier, "index", "--config", mini_map, "--index-dir", folder))
    assert again["lists"].startswith("built (the data map's datasets changed): 2 records, 2 entries"), again["lists"]
    assert again["events"] == "fresh"


def test_a_damaged_index_is_rebuilt(dossier, mini_map, tmp_path):
    folder = tmp_path / "idx"
    index_lines(run(dossier, "index", "--config", mini_map, "--index-dir", folder))
    (folder / "events.index.sqlite").write_bytes(b"not a database at all" * 100)
    again = index_lines(run(dossier, "index", "--config", mini_map, "--index-dir", folder))
    assert again["events"].startswith("built (it cannot be read)"), again["events"]


def big_jsonl(subject_line: str) -> str:
    """Filler lines around one line of Anna's: her line sits between the fingerprint's sampled
    blocks (the first 4 KiB and the block at 1/15 of the file), so an in-place edit of it that keeps
    the size and the modification time goes unseen by the index's freshness check."""
    filler = [json.dumps({"seq": 1000 + i, "type": "login", "contact_id": 999, "pad": "x" * 80}) for i in range(20_000)]
    return "\n".join(filler[:400] + [subject_line] + filler[400:]) + "\n"


def test_an_edit_the_index_cannot_see_never_puts_a_wrong_record_in_a_bundle(dossier, tmp_path):
    line = '{"seq": 2, "type": "login", "contact_id": "1", "at": "2025-01-02T10:00:00Z", "device": {"os": "android", "ip": "10.0.0.2"}}'
    map_path = build_mini(tmp_path / "m", jsonl_text=big_jsonl(line))
    events = tmp_path / "m" / "events.jsonl"
    folder = tmp_path / "idx"
    index_lines(run(dossier, "index", "--config", map_path, "--index-dir", folder))
    before = export(dossier, map_path, [("email", ANNA)], mk(tmp_path / "a"))
    assert [r["seq"] for r in records(before, "events", "logins")] == [2]

    # The record is given to contact 2 in place: same size, modification time put back.
    data = events.read_bytes()
    at = data.index(line.encode())
    assert 4096 < at and at + len(line) < (len(data) - 4096) // 15, "the edit must fall between the sampled blocks"
    st = events.stat()
    events.write_bytes(data.replace(b'"contact_id": "1"', b'"contact_id": "2"', 1))
    os.utime(events, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert index_lines(run(dossier, "index", "--config", map_path, "--index-dir", folder))["events"] == "fresh"

    proc = run(dossier, "export", "--config", map_path, "--email", ANNA, "--out", tmp_path / "b",
               "--request-id", "R-2", "--index-dir", folder)
    assert proc.returncode == 0, proc.stderr
    after = Path(proc.stdout.splitlines()[-1])
    assert records(after, "events", "logins") == [], "a record that is no longer Anna's came back through the index"
    assert counts(after)["events/logins"] == 0


def test_a_record_that_no_longer_parses_is_an_error_naming_the_index(dossier, tmp_path):
    line = '{"seq": 2, "type": "login", "contact_id": "1", "at": "2025-01-02T10:00:00Z"}'
    map_path = build_mini(tmp_path / "m", jsonl_text=big_jsonl(line))
    events = tmp_path / "m" / "events.jsonl"
    folder = tmp_path / "idx"
    index_lines(run(dossier, "index", "--config", map_path, "--index-dir", folder))
    data = events.read_bytes()
    st = events.stat()
    events.write_bytes(data.replace(line.encode(), b"#" * len(line), 1))
    os.utime(events, ns=(st.st_atime_ns, st.st_mtime_ns))
    proc = run(dossier, "export", "--config", map_path, "--email", ANNA, "--out", tmp_path / "o", "--index-dir", folder)
    assert_one_line_error(proc, EX_NOINPUT, "events", "events.jsonl", "index")
    assert not any(p.suffix == ".zip" for p in (tmp_path / "o").iterdir()), "an archive was written"


def test_a_key_given_twice_off_the_lookup_paths_is_refused_by_the_index_build(dossier, tmp_path):
    """The index build reads only the lookup paths' values of a line, but checks every object's keys:
    a key repeated elsewhere is refused when the index is built, with the line, as a scan refuses it,
    never quoting either value; an export that builds the index says the same, and writes nothing."""
    line = '{"seq": 2, "type": "login", "contact_id": "1", "note": "secret-first", "note": "secret-second"}'
    map_path = build_mini(tmp_path / "m", jsonl_text=big_jsonl(line))
    folder = tmp_path / "idx"
    proc = run(dossier, "index", "--config", map_path, "--index-dir", folder)
    assert_one_line_error(proc, EX_NOINPUT, "source 'events'", "events.jsonl:401", "the same key twice")
    assert "secret" not in proc.stderr
    proc = run(dossier, "export", "--config", map_path, "--email", ANNA, "--out", tmp_path / "o", "--index-dir", folder)
    assert_one_line_error(proc, EX_NOINPUT, "source 'events'", "events.jsonl:401", "the same key twice")
    assert "secret" not in proc.stderr
    assert not (tmp_path / "o").exists() or not any(p.suffix == ".zip" for p in (tmp_path / "o").iterdir())
    # Scanned, the same line gives the same sentence's start.
    proc = run(dossier, "export", "--config", map_path, "--email", ANNA, "--out", tmp_path / "s")
    assert_one_line_error(proc, EX_NOINPUT, "source 'events'", "events.jsonl:401", "the same key twice")


NS_XML = """<?xml version="1.0" encoding="ISO-8859-2"?>
<c:contests xmlns:c="urn:example:contests" xmlns="urn:example:default">
  <!-- <c:entry> in a comment is no record -->
  <c:entry id="e1"><email>anna@example.pl</email><answer><![CDATA[Zażółć & <gęślą>]]></answer></c:entry>
  <c:entry id="e2" note="a > b"><email>jan@example.pl</email><answer>Jaźń</answer></c:entry>
  <c:entry id="e3"/>
</c:contests>
"""


def test_xml_index_handles_namespaces_encodings_and_cdata(dossier, tmp_path):
    """Records in a namespace declared on the root, an ISO-8859-2 file, CDATA, a self-closing record:
    read back through the index they are exactly what the scan gives."""
    from conftest import MINI_MAP
    map_path = build_mini(tmp_path / "m", map_text=MINI_MAP.replace("record: /contests/entry", "record: /contests/entry"),
                          xml_text="")
    (tmp_path / "m" / "entries.xml").write_bytes(NS_XML.encode("iso-8859-2"))
    folder = tmp_path / "idx"
    built = index_lines(run(dossier, "index", "--config", map_path, "--index-dir", folder))
    assert built["contests"].startswith("built (missing): 3 records, 2 entries"), built["contests"]
    conn = sqlite3.connect(folder / "contests.index.sqlite")
    ranges = sorted(set(conn.execute("SELECT offset, length FROM entries").fetchall()))
    conn.close()
    data = (tmp_path / "m" / "entries.xml").read_bytes()
    assert [data[o:o + n][:15] for o, n in ranges] == [b'<c:entry id="e1', b'<c:entry id="e2']
    assert all(data[o:o + n].endswith(b"</c:entry>") for o, n in ranges)
    for email in (ANNA, "jan@example.pl"):
        scanned = export(dossier, map_path, [("email", email)], mk(tmp_path / "scan"), request_id="X-1")
        proc = run(dossier, "export", "--config", map_path, "--email", email, "--out", tmp_path / "ix", "--request-id", "X-1",
                   "--as-of", "2026-01-02T03:04:05Z", "--index-dir", folder)
        assert proc.returncode == 0, proc.stderr
        indexed = Path(proc.stdout.splitlines()[-1])
        assert indexed.read_bytes() == scanned.read_bytes(), email
    got = records(indexed, "contests", "entries")
    assert got == [{"id": "e2", "note": "a > b", "email": "jan@example.pl", "answer": "Jaźń"}], got


def test_xml_with_attribute_defaults_is_scanned_not_indexed(dossier, tmp_path):
    """A DTD's attribute defaults would be lost by a record read back alone: such a file is scanned."""
    xml = ('<?xml version="1.0"?>\n<!DOCTYPE contests [<!ATTLIST entry contest CDATA "spring">]>\n'
           '<contests><entry id="e1"><email>anna@example.pl</email></entry></contests>\n')
    map_path = build_mini(tmp_path / "m", xml_text=xml)
    folder = tmp_path / "idx"
    built = index_lines(run(dossier, "index", "--config", map_path, "--index-dir", folder))
    assert built["contests"].startswith("cannot be indexed (entries.xml: "), built["contests"]
    assert built["contests"].endswith("; scanned")
    archive = export(dossier, map_path, [("email", ANNA)], mk(tmp_path / "o"))
    assert counts(archive)["contests/entries"] == 1
    proc = run(dossier, "export", "--config", map_path, "--email", ANNA, "--out", tmp_path / "o2", "--index-dir", folder)
    assert proc.returncode == 0, proc.stderr
    assert counts(Path(proc.stdout.splitlines()[-1]))["contests/entries"] == 1


# --------------------------------------------------------------------------- normalised phones kept

def phone_key(text: str) -> tuple[int, int]:
    """A phone text's key as Dossier packs it (NormalizeFunctions.swift, PackedKey): four bits a
    symbol, a digit as 1...10, a leading + as 11; separators skipped."""
    v, symbols = 0, 0
    for ch in text:
        if ch.isdigit():
            v, symbols = (v << 4) | (int(ch) + 1), symbols + 1
        elif ch == "+" and symbols == 0:
            v, symbols = (v << 4) | 11, symbols + 1
        else:
            assert ch in " -.()/", ch
    return v >> 64, v & ((1 << 64) - 1)


def read_phone_cache(path: Path) -> tuple[list[bytes], dict[tuple[int, int], bytes | None]]:
    data = path.read_bytes()
    body, digest = data[:-32], data[-32:]
    assert hashlib.sha256(body).digest() == digest, "the cache's digest does not match its content"
    lines = body.split(b"\n", 3)
    header, rest = lines[:3], lines[3]
    entries, i = {}, 0
    while i < len(rest):
        high, low, n = struct.unpack_from("<QQB", rest, i)
        i += 17
        entries[(high, low)] = None if n == 255 else rest[i:i + n]
        i += 0 if n == 255 else n
    return header, entries


def write_phone_cache(path: Path, header: list[bytes], entries: dict[tuple[int, int], bytes]) -> None:
    body = b"\n".join(header) + b"\n" + b"".join(struct.pack("<QQB", k[0], k[1], len(v)) + v for k, v in sorted(entries.items()))
    path.write_bytes(body + hashlib.sha256(body).digest())


def crm_ids(dossier, mini_map, tmp_path, folder: Path, name: str) -> list[int]:
    proc = run(dossier, "export", "--config", mini_map, "--phone", "+48 22 122 86 17", "--out", tmp_path / name,
               "--request-id", "R-1", "--as-of", "2026-01-02T03:04:05Z", "--index-dir", folder)
    assert proc.returncode == 0, proc.stderr
    return sorted(r["id"] for r in records(Path(proc.stdout.splitlines()[-1]), "crm", "contacts"))


def test_normalised_phones_are_kept_in_the_index_folder_and_only_a_whole_file_is_believed(dossier, mini_map, tmp_path):
    """`normalize_phone` in a SQLite lookup normalises every row's phone; the phones a run
    normalised are kept in the index folder (phones-PL.cache, the owner's alone), stamped with the
    region, libphonenumber and the program, and sealed with a SHA-256. A later run reads them
    instead of asking libphonenumber again: shown here by a file that says Jan's number is Anna's,
    which the run then believes. One byte changed, or another stamp, and the file is ignored (the
    phones normalised again, the file written again whole)."""
    folder = mk(tmp_path / "idx")
    assert crm_ids(dossier, mini_map, tmp_path, folder, "o1") == [1]
    cache = folder / "phones-PL.cache"
    assert stat.S_IMODE(cache.stat().st_mode) == 0o600
    header, entries = read_phone_cache(cache)
    assert header[:2] == [b"dossier-phones 1", b"PL"] and header[2].startswith(b"libphonenumber /")
    anna, jan = phone_key("+48 22 122 86 17"), phone_key("0048221228600")
    assert entries == {anna: b"+48221228617", jan: b"+48221228600"}
    assert [p.name for p in folder.iterdir() if p.name.startswith(".")] == [], "a temporary file was left"

    write_phone_cache(cache, header, {anna: b"+48221228617", jan: b"+48221228617"})
    assert crm_ids(dossier, mini_map, tmp_path, folder, "o2") == [1, 2], "the kept phones were not read"

    damaged = bytearray(cache.read_bytes())
    damaged[len(b"\n".join(header)) + 5] ^= 0x01
    cache.write_bytes(bytes(damaged))
    assert crm_ids(dossier, mini_map, tmp_path, folder, "o3") == [1], "a damaged file was believed"
    assert read_phone_cache(cache)[1] == {anna: b"+48221228617", jan: b"+48221228600"}, "the damaged file was not replaced"

    for other in ([b"dossier-phones 1", b"PL", b"libphonenumber /elsewhere/libphonenumber.so.8 1 2.0; program 3 4.0"],
                  [b"dossier-phones 1", b"DE", header[2]], [b"dossier-phones 2", b"PL", header[2]]):
        write_phone_cache(cache, other, {anna: b"+48221228617", jan: b"+48221228617"})
        assert crm_ids(dossier, mini_map, tmp_path, folder, "o4") == [1], f"a file stamped {other} was believed"
