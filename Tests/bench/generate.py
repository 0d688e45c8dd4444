#!/usr/bin/env python3
"""Writes the benchmark's sources and data map into a scratch folder (default .build-bench/).

Standard library only, no clock, no random module: every value is a pure function of the row
number, so two runs give byte-identical files. The folder is reused when its stamp file names the
same generator (GENERATOR_VERSION and the SHA-256 of this script); --force rebuilds it.

    <scratch>/bench.yaml                 the data map (same format as Samples/dossier.yaml)
    <scratch>/crm/bench.sqlite           contacts (200,000 rows), events (2,000,000 rows)
    <scratch>/mailing/subscribers.csv    500,000 rows
    <scratch>/training/activity.jsonl    1,000,000 records
    <scratch>/contests/entries.xml       300,000 <entry> records
    <scratch>/expected.json              the subjects and how many records each must get
    <scratch>/.stamp                     written last; names the generator that wrote the folder

Subjects:

    heavy   bench.person@example.com, CRM contact 42: 1 contact, 50,000 events, 5,000 mailing rows
            (her e-mail in varied case, some with spaces), 20,000 JSON Lines records (contact_id as
            a number and as text), 2,000 XML entries (e-mail in varied case). Found by e-mail in
            round 1 (contact, mailing, contests); the contact yields crm_id 42, which finds the
            events and the training records in round 2.
    single  single.person@example.com, CRM contact 100000: one record in every dataset.
    nowhere nobody.bench@example.net: in no source (the generator never writes it).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sqlite3
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

GENERATOR_VERSION = 1

N_CONTACTS = 200_000
N_EVENTS = 2_000_000
N_CSV = 500_000
N_JSONL = 1_000_000
N_XML = 300_000
XML_PER_CONTEST = 1_000

HEAVY_ID = 42
HEAVY_EMAIL = "bench.person@example.com"
HEAVY_EVERY_EVENT = 40     # 2,000,000 / 40  = 50,000 events
HEAVY_EVERY_JSONL = 50     # 1,000,000 / 50  = 20,000 records
HEAVY_EVERY_CSV = 100      #   500,000 / 100 =  5,000 rows
HEAVY_EVERY_XML = 150      #   300,000 / 150 =  2,000 entries
# How her e-mail is typed in the mailing list and the contests (trimmed and lower-cased, all match).
HEAVY_SPELLINGS = [HEAVY_EMAIL, "Bench.Person@Example.com", "BENCH.PERSON@EXAMPLE.COM",
                   " bench.person@example.com ", "Bench.Person@EXAMPLE.COM"]

SINGLE_ID = 100_000
SINGLE_EMAIL = "single.person@example.com"
# The one row of each file that belongs to the single subject (never a multiple of HEAVY_EVERY_*).
SINGLE_EVENT = 1_000_001
SINGLE_JSONL = 500_001
SINGLE_CSV = 250_001
SINGLE_XML = 150_001

NOWHERE_EMAIL = "nobody.bench" + "@" + "example.net"   # in two parts: not even this file holds it

EPOCH = 1_577_836_800      # 2020-01-01T00:00:00Z
FIRST = ["Anna", "Piotr", "Maria", "Krzysztof", "Katarzyna", "Tomasz", "Agnieszka", "Paweł",
         "Małgorzata", "Michał", "Zofia", "Jan", "Ewa", "Marek", "Joanna", "Łukasz"]
LAST = ["Nowak", "Kowalska", "Wiśniewski", "Wójcik", "Kowalczyk", "Kamińska", "Lewandowski",
        "Zielińska", "Szymański", "Woźniak", "Dąbrowska", "Kozłowski", "Jankowska", "Mazur"]
CITIES = ["Warszawa", "Kraków", "Łódź", "Wrocław", "Poznań", "Gdańsk", "Szczecin", "Lublin"]
EVENT_KINDS = ["page_view", "form_submit", "email_open", "email_click", "call", "meeting"]
CHANNELS = ["web", "email", "phone", "sms", "in_person"]
ACTIVITY_TYPES = ["lesson_view", "quiz_attempt", "assignment", "forum_post"]
COURSES = [("SQL-BI", "SQL i Power BI dla analityków"), ("PY-DATA", "Python w analizie danych"),
           ("REKR-IT", "Rekrutacja w IT"), ("EXCEL-PRO", "Excel dla zaawansowanych")]
ANSWERS = ["Biurko przy oknie & kubek z logo.", "Pokój socjalny <3 i ekspres.",
           "Open space o 7 rano.", "Kawa, kod, \"code review\"."]
TAG_SETS = ['', '"VIP"', '"Blog","Newsletter"', '"Szkolenia"']


def mix(i: int, salt: int = 0) -> int:
    """A cheap deterministic scramble of a row number (Knuth's multiplicative hash)."""
    return ((i + salt) * 2654435761) & 0xFFFFFFFF


def stamp(ts: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def other_contact(i: int, salt: int) -> int:
    """A contact id for a row that belongs to neither the heavy nor the single subject."""
    cid = mix(i, salt) % N_CONTACTS + 1
    if cid in (HEAVY_ID, SINGLE_ID):
        cid += 1
    return cid


def contact_email(cid: int) -> str:
    if cid == HEAVY_ID:
        return "Bench.Person@example.com"
    if cid == SINGLE_ID:
        return SINGLE_EMAIL
    return f"contact{cid}@example.org"


# --------------------------------------------------------------------------- SQLite

def write_sqlite(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    for p in (path, Path(str(path) + "-journal")):
        if p.exists():
            p.unlink()
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode = OFF")
    db.execute("PRAGMA synchronous = OFF")
    db.execute("PRAGMA cache_size = -200000")
    db.execute("BEGIN")
    db.execute("""CREATE TABLE contacts (
        id INTEGER PRIMARY KEY, first_name TEXT NOT NULL, last_name TEXT NOT NULL, email TEXT,
        phone TEXT, city TEXT, created_at TEXT NOT NULL, score REAL, photo BLOB)""")
    db.execute("""CREATE TABLE events (
        id INTEGER PRIMARY KEY, contact_id INTEGER NOT NULL REFERENCES contacts(id),
        kind TEXT NOT NULL, occurred_at TEXT NOT NULL, channel TEXT NOT NULL, detail TEXT,
        amount REAL)""")

    def contacts():
        for cid in range(1, N_CONTACTS + 1):
            h = mix(cid)
            yield (cid, FIRST[h % 16], LAST[(h >> 4) % 14], contact_email(cid),
                   f"+48 {500 + h % 300} {h % 1000:03d} {(h >> 10) % 1000:03d}",
                   CITIES[(h >> 8) % 8], stamp(EPOCH + cid * 97),
                   None if h % 5 == 0 else (h % 1000) / 1000.0,
                   b"\x89PNG\r\n\x1a\n" + cid.to_bytes(4, "big") if h % 50 == 0 else None)

    db.executemany("INSERT INTO contacts VALUES (?,?,?,?,?,?,?,?,?)", contacts())

    def events():
        for i in range(1, N_EVENTS + 1):
            if i % HEAVY_EVERY_EVENT == 0:
                cid = HEAVY_ID
            elif i == SINGLE_EVENT:
                cid = SINGLE_ID
            else:
                cid = other_contact(i, 7)
            h = mix(i, 3)
            yield (i, cid, EVENT_KINDS[h % 6], stamp(EPOCH + i * 13), CHANNELS[(h >> 3) % 5],
                   f"session {h:08x}; page /oferty/{h % 977}" if h % 3 else None,
                   (h % 100000) / 100.0 if h % 7 == 0 else None)

    db.executemany("INSERT INTO events VALUES (?,?,?,?,?,?,?)", events())
    db.execute("CREATE INDEX contacts_email_lower ON contacts (lower(email))")
    db.execute("CREATE INDEX events_contact_id ON events (contact_id)")
    db.execute("COMMIT")
    db.execute("ANALYZE")
    db.close()


# --------------------------------------------------------------------------- CSV (Mailchimp-like)

CSV_HEADER = ('"Email Address","First Name","Last Name",MEMBER_RATING,OPTIN_TIME,OPTIN_IP,'
              'CONFIRM_TIME,LATITUDE,LONGITUDE,LEID,TAGS,NOTES\r\n')


def csv_cell(s: str) -> str:
    if any(c in s for c in ',"\r\n'):
        return '"' + s.replace('"', '""') + '"'
    return s


def write_csv(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="", buffering=1 << 20) as f:
        f.write(CSV_HEADER)
        chunk = []
        for i in range(1, N_CSV + 1):
            h = mix(i, 11)
            if i % HEAVY_EVERY_CSV == 0:
                email = HEAVY_SPELLINGS[(i // HEAVY_EVERY_CSV) % len(HEAVY_SPELLINGS)]
                first, last = "Bench", "Person"
            elif i == SINGLE_CSV:
                email, first, last = SINGLE_EMAIL, "Single", "Person"
            else:
                email = f"subscriber{i}@example.org"
                first, last = FIRST[h % 16], LAST[(h >> 4) % 14]
            t = EPOCH + i * 61
            notes = "=HYPERLINK(\"http://example.com\")" if h % 1000 == 0 else (
                "prefers e-mail, not phone" if h % 10 == 0 else "")
            chunk.append(",".join((
                csv_cell(email), first, last, str(1 + h % 5),
                time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t)),
                f"192.0.2.{h % 254 + 1}",
                time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t + 600)),
                f"{49 + (h % 5000) / 1000:.7f}", f"{14 + (h >> 8) % 10000 / 1000:.7f}",
                str(183_000_000 + i), csv_cell(TAG_SETS[h % 4]), csv_cell(notes))) + "\r\n")
            if len(chunk) == 10_000:
                f.write("".join(chunk))
                chunk.clear()
        f.write("".join(chunk))


# --------------------------------------------------------------------------- JSON Lines

def write_jsonl(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n", buffering=1 << 20) as f:
        chunk = []
        for i in range(1, N_JSONL + 1):
            h = mix(i, 5)
            if i % HEAVY_EVERY_JSONL == 0:
                # every fourth of her records carries the id as text: "42" must match 42
                cid = '"42"' if (i // HEAVY_EVERY_JSONL) % 4 == 0 else "42"
            elif i == SINGLE_JSONL:
                cid = str(SINGLE_ID)
            else:
                cid = str(other_contact(i, 13))
            code, title = COURSES[h % 4]
            kind = ACTIVITY_TYPES[(h >> 2) % 4]
            score = f'"{h % 10000 / 100:.2f}"' if kind == "quiz_attempt" else "null"
            passed = "true" if h % 3 else "false"
            tags = '["sql", "bi"]' if h % 5 == 0 else "[]"
            chunk.append(
                f'{{"id": "A-{i:07d}", "type": "{kind}", "contact_id": {cid}, '
                f'"at": "{stamp(EPOCH + i * 29)}", "course": {{"code": "{code}", '
                f'"title": "{title}", "lesson": {h % 40 + 1}}}, "score": {score}, '
                f'"passed": {passed}, "tags": {tags}, "duration_s": {h % 3600}}}\n')
            if len(chunk) == 10_000:
                f.write("".join(chunk))
                chunk.clear()
        f.write("".join(chunk))


# --------------------------------------------------------------------------- XML

def xml_text(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def write_xml(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n", buffering=1 << 20) as f:
        f.write('<?xml version="1.0" encoding="UTF-8"?>\n'
                "<!-- Benchmark contests (fictitious). Generated by Tests/bench/generate.py. -->\n"
                "<contests>\n")
        chunk = []
        for i in range(1, N_XML + 1):
            if (i - 1) % XML_PER_CONTEST == 0:
                c = (i - 1) // XML_PER_CONTEST + 1
                if c > 1:
                    chunk.append("  </contest>\n")
                chunk.append(f'  <contest id="K-{c:04d}" kind="single">\n'
                             f"    <title>Konkurs {c}</title>\n")
            contest = f"K-{(i - 1) // XML_PER_CONTEST + 1:04d}"
            h = mix(i, 17)
            if i % HEAVY_EVERY_XML == 0:
                email = HEAVY_SPELLINGS[(i // HEAVY_EVERY_XML) % len(HEAVY_SPELLINGS)].strip()
                name = "Bench Person"
            elif i == SINGLE_XML:
                email, name = SINGLE_EMAIL, "Single Person"
            else:
                email = f"entrant{i}@example.com"
                name = f"{FIRST[h % 16]} {LAST[(h >> 4) % 14]}"
            address = (f"      <address><street>ul. Polna {h % 120 + 1}</street>"
                       f"<postcode>{h % 90 + 10:02d}-{h % 1000:03d}</postcode>"
                       f"<city>{CITIES[(h >> 6) % 8]}</city></address>\n") if h % 4 == 0 else ""
            chunk.append(
                f'    <entry id="E-{i:07d}" contest="{contest}">\n'
                f"      <name>{xml_text(name)}</name>\n"
                f"      <email>{xml_text(email)}</email>\n"
                f"      <answer>{xml_text(ANSWERS[h % 4])}</answer>\n"
                f"{address}"
                f"      <submitted_at>{stamp(EPOCH + i * 71)}</submitted_at>\n"
                f"    </entry>\n")
            if len(chunk) >= 10_000:
                f.write("".join(chunk))
                chunk.clear()
        chunk.append("  </contest>\n</contests>\n")
        f.write("".join(chunk))


# --------------------------------------------------------------------------- data map

DATA_MAP = """\
# Data map of the benchmark sources written by Tests/bench/generate.py (generator version {version}).
# Paths are relative to this file's folder. Do not edit: the generator rewrites it.
version: 1

controller:
  name: Bench Controller Sp. z o.o.
  address: ul. Testowa 1, 00-001 Warszawa
  email: privacy@bench.example.com
  phone: +48 22 000 00 00
  website: https://bench.example.com
  dpo:
    name: Data Protection Officer
    email: dpo@bench.example.com
  supervisory_authority:
    name: Prezes Urzędu Ochrony Danych Osobowych
    address: ul. Stawki 2, 00-193 Warszawa
    website: https://uodo.gov.pl
  languages: [en, pl]
  default_region: PL

fees:
  currency: PLN
  further_copy: "25.00"

resolution:
  max_rounds: 5

purposes:
  crm:
    title: {{ en: Customer relationship management, pl: Zarządzanie relacjami z klientami }}
    legal_basis: legitimate_interests
    legitimate_interest:
      en: Keeping track of our contacts with customers and prospects.
      pl: Prowadzenie historii kontaktów z klientami i potencjalnymi klientami.
  marketing:
    title: {{ en: Newsletter, pl: Newsletter }}
    legal_basis: consent
  training:
    title: {{ en: Online training, pl: Szkolenia online }}
    legal_basis: contract
  contests:
    title: {{ en: Contests, pl: Konkursy }}
    legal_basis: consent

categories:
  identity:
    title: {{ en: Name, pl: Imię i nazwisko }}
  contact:
    title: {{ en: Contact details, pl: Dane kontaktowe }}
  location:
    title: {{ en: Location, pl: Lokalizacja }}
  image:
    title: {{ en: Photograph, pl: Zdjęcie }}
  technical:
    title: {{ en: Technical data, pl: Dane techniczne }}
  internal:
    title: {{ en: Our references and record metadata, pl: Identyfikatory i metadane rekordów }}
  activity:
    title: {{ en: Activity history, pl: Historia aktywności }}
  profile:
    title: {{ en: Profiling results, pl: Wyniki profilowania }}
  marketing:
    title: {{ en: Mailing list membership, pl: Zapis na listę mailingową }}
  training:
    title: {{ en: Training activity, pl: Aktywność szkoleniowa }}
  contest:
    title: {{ en: Contest entries, pl: Zgłoszenia konkursowe }}
  address:
    title: {{ en: Postal address, pl: Adres korespondencyjny }}

recipients:
  mailing_provider:
    title: {{ en: E-mail delivery provider, pl: Dostawca usług wysyłki e-mail }}
    country: US
    safeguard:
      en: Standard contractual clauses, Art. 46(2)(c)
      pl: Standardowe klauzule umowne, art. 46 ust. 2 lit. c RODO
  hosting:
    title: {{ en: Hosting provider, pl: Dostawca hostingu }}
    country: PL

sources:
  crm:
    title: {{ en: CRM, pl: System CRM }}
    kind: sqlite
    path: crm/bench.sqlite
    datasets:
      contacts:
        title: {{ en: Contact card, pl: Karta kontaktu }}
        key: [id]
        lookup:
          email: SELECT * FROM contacts WHERE lower(email) = :value
          crm_id: SELECT * FROM contacts WHERE id = :value
        yields: {{ crm_id: id, email: email }}
        purposes: [crm, marketing]
        recipients: [hosting]
        retention:
          period: P3Y
          criteria: {{ en: 3 years after our last contact, pl: 3 lata od ostatniego kontaktu }}
        origin: subject
        fields:
          id: {{ category: internal }}
          first_name: {{ category: identity }}
          last_name: {{ category: identity }}
          email: {{ category: contact }}
          phone: {{ category: contact }}
          city: {{ category: location }}
          created_at: {{ category: internal, origin: observed }}
          score: {{ category: profile, origin: derived, portable: false }}
          photo: {{ category: image }}
      events:
        title: {{ en: Activity log, pl: Dziennik aktywności }}
        key: [id]
        lookup:
          crm_id: SELECT * FROM events WHERE contact_id = :value
        purposes: [crm]
        recipients: [hosting]
        retention:
          period: P2Y
        origin: observed
        fields:
          id: {{ category: internal }}
          contact_id: {{ category: internal }}
          kind: {{ category: activity }}
          occurred_at: {{ category: activity }}
          channel: {{ category: activity }}
          detail: {{ category: technical }}
          amount: {{ category: activity }}

  mailing:
    title: {{ en: Newsletter mailing list, pl: Lista mailingowa }}
    kind: csv
    path: mailing/subscribers.csv
    datasets:
      subscribers:
        title: {{ en: Newsletter subscription, pl: Subskrypcja newslettera }}
        key: [LEID]
        lookup:
          email: Email Address
        purposes: [marketing]
        recipients: [mailing_provider]
        retention:
          criteria: {{ en: Until you unsubscribe, pl: Do wypisania się }}
        origin: subject
        fields:
          Email Address: {{ category: contact }}
          First Name: {{ category: identity }}
          Last Name: {{ category: identity }}
          MEMBER_RATING: {{ category: marketing, origin: derived, portable: false }}
          OPTIN_TIME: {{ category: marketing, origin: observed }}
          OPTIN_IP: {{ category: technical, origin: observed }}
          CONFIRM_TIME: {{ category: marketing, origin: observed }}
          LATITUDE: {{ category: location, origin: derived }}
          LONGITUDE: {{ category: location, origin: derived }}
          LEID: {{ category: internal }}
          TAGS: {{ category: marketing }}
          NOTES: {{ category: marketing }}

  training:
    title: {{ en: Training platform, pl: Platforma szkoleniowa }}
    kind: jsonl
    path: training/activity.jsonl
    datasets:
      activity:
        title: {{ en: Training activity, pl: Aktywność szkoleniowa }}
        key: [id]
        lookup: {{ crm_id: contact_id }}
        purposes: [training]
        retention:
          period: P1Y
        origin: observed
        fields:
          id: {{ category: internal }}
          type: {{ category: training }}
          contact_id: {{ category: internal }}
          at: {{ category: training }}
          course.code: {{ category: training }}
          course.title: {{ category: training }}
          course.lesson: {{ category: training }}
          score: {{ category: training, origin: derived }}
          passed: {{ category: training, origin: derived }}
          tags: {{ category: training }}
          duration_s: {{ category: training }}

  contests:
    title: {{ en: Contests, pl: Konkursy }}
    kind: xml
    path: contests/entries.xml
    datasets:
      entries:
        title: {{ en: Contest entries, pl: Zgłoszenia konkursowe }}
        record: /contests/contest/entry
        key: [id]
        lookup: {{ email: email }}
        purposes: [contests]
        retention:
          period: P1Y
        origin: subject
        fields:
          id: {{ category: internal }}
          contest: {{ category: contest }}
          name: {{ category: identity }}
          email: {{ category: contact }}
          answer: {{ category: contest }}
          submitted_at: {{ category: contest, origin: observed }}
          address.street: {{ category: address }}
          address.postcode: {{ category: address }}
          address.city: {{ category: address }}
"""

EXPECTED = {
    "heavy": {"email": HEAVY_EMAIL, "records": {
        "crm/contacts": 1, "crm/events": N_EVENTS // HEAVY_EVERY_EVENT,
        "mailing/subscribers": N_CSV // HEAVY_EVERY_CSV,
        "training/activity": N_JSONL // HEAVY_EVERY_JSONL,
        "contests/entries": N_XML // HEAVY_EVERY_XML}},
    "single": {"email": SINGLE_EMAIL, "records": {
        "crm/contacts": 1, "crm/events": 1, "mailing/subscribers": 1, "training/activity": 1,
        "contests/entries": 1}},
    "nowhere": {"email": NOWHERE_EMAIL, "records": {}},
}

FILES = ["bench.yaml", "expected.json", "crm/bench.sqlite", "mailing/subscribers.csv",
         "training/activity.jsonl", "contests/entries.xml"]


def generator_id() -> str:
    digest = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()
    return f"dossier-bench-generator {GENERATOR_VERSION} {digest}\n"


def timed(name: str, fn, path: Path) -> tuple[str, float]:
    start = time.monotonic()
    fn(path)
    return name, time.monotonic() - start


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("scratch", nargs="?", default=".build-bench", help="folder to write into")
    ap.add_argument("--force", action="store_true", help="rebuild even when the stamp matches")
    args = ap.parse_args()
    out = Path(args.scratch).resolve()
    stamp_file = out / ".stamp"
    if (not args.force and stamp_file.is_file() and stamp_file.read_text() == generator_id()
            and all((out / f).is_file() for f in FILES)):
        print(f"generate: reusing {out} (generator version {GENERATOR_VERSION}, stamp matches)")
        return 0

    out.mkdir(parents=True, exist_ok=True)
    if stamp_file.exists():
        stamp_file.unlink()
    print(f"generate: writing {out} (generator version {GENERATOR_VERSION})", flush=True)
    start = time.monotonic()
    jobs = [("crm/bench.sqlite", write_sqlite), ("training/activity.jsonl", write_jsonl),
            ("mailing/subscribers.csv", write_csv), ("contests/entries.xml", write_xml)]
    # SQLite is the longest job; the files share the other worker.
    with ProcessPoolExecutor(max_workers=max(1, min(4, os.cpu_count() or 1))) as pool:
        futures = [pool.submit(timed, name, fn, out / name) for name, fn in jobs]
        for fut in futures:
            name, secs = fut.result()
            size = (out / name).stat().st_size / 2**20
            print(f"generate:   {name:<26} {size:8.1f} MiB  {secs:6.1f} s", flush=True)
    (out / "bench.yaml").write_text(DATA_MAP.format(version=GENERATOR_VERSION), encoding="utf-8")
    (out / "expected.json").write_text(json.dumps(EXPECTED, indent=2) + "\n", encoding="utf-8")
    stamp_file.write_text(generator_id())
    print(f"generate: done in {time.monotonic() - start:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
