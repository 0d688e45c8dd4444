#!/usr/bin/env python3
"""Writes the batch benchmark (issue 8): N people, ~100 records each, and what each must get.

Standard library only, no clock, no random module: every value is a pure function of (person
number, row number) through a splitmix64 hash, so two runs give byte-identical files. The folder is
reused when its stamp file names the same generator (GENERATOR_VERSION, the SHA-256 of this script
and N); --force rebuilds it. Counts and sizes below are for the default N = 10,000 (~15 s).

    <scratch>/people.yaml                the data map (same format as Samples/dossier.yaml)
    <scratch>/crm/crm.sqlite             contacts 8,188, events 508,334                      72 MB
    <scratch>/training/events.jsonl      enrolment 86,298 and invoice_line 137,212 records   56 MB
    <scratch>/contests/entries.xml       <entry> 189,178, <jury><member> 375                 64 MB
    <scratch>/mailing/subscribers.csv    Mailchimp-like export, 88,359 rows                  19 MB
    <scratch>/oracle.jsonl               per person: e-mail, phone, exact counts per dataset
    <scratch>/requests.csv, .jsonl       one access request per person (P-000001 ...)
    <scratch>/expected.json              totals per dataset, file sizes, special person numbers
    <scratch>/.stamp                     written last; names the generator that wrote the folder

    python3 Tests/bench/people.py [SCRATCH] [--people N] [--giant K] [--force] [--check K]

SCRATCH defaults to .build-bench/people-<N>/ in the repository (with --giant K:
.build-bench/giant-<K>/ for the default 50 people, .build-bench/giant-<K>-people-<N>/ otherwise). --check K exports K people with
$DOSSIER (default .build/debug/dossier) after `dossier validate`, and compares every dataset count
in the archive's manifest.json with the oracle; exit 1 on a difference, 2 without a binary. When
the PyPI package phonenumbers is importable, every phone form written is checked to normalise
(region PL) to its owner's E.164 number; the generator does not need it.

Identity resolution (the map's lookups and yields): a request by e-mail finds the person's CRM
contact, mailing rows, contest entries and jury seats (round 1); the contact yields crm_id and its
phone, which find events, enrolments, contest entries that carry only the phone, and a duplicate
contact that has no e-mail (round 2); enrolments yield invoice_id, which finds invoice lines
(round 3); a duplicate contact's own events, enrolments and lines follow in rounds 3 and 4.

Distribution: people come in blocks of 100; in each block a hash-chosen 1 is heavy (planned
1,000 + 4,000 * v^12 records, so 7 of 100 exceed 2,000 and the biggest has 4,961), 5 are found
nowhere (their e-mail is in no source; 3 in 10 of them have contest entries with only their
phone, which an e-mail request cannot reach), 5 are light (1-3 records), and 89 are ordinary
(log-normal, median 85, clamped to 6-700). A person's records are split, with jitter, about 46%
events, 28% training, 16.5% contest entries, 7.5% mailing rows; a quarter of the ordinary people
never trained (that share goes to events), and 15% have no CRM contact at all (they have a quarter
of the records, in the mailing list and the contests only). Exported per person: median 66,
mean 101, 99th percentile 1,000; 500 people get nothing and 174 exactly one record.

Formats: e-mails in varied case (ASCII, so SQLite's lower() agrees), with surrounding spaces and
tabs in the CSV and XML; phones in 8 national and international forms (+48 512 345 678, 512-345-678,
0048 ..., (22) 123 45 67, ...), 12% of people have none; contact_id a number on most JSON lines and
text on a fifth; nested billing and address objects; CSV cells with commas, quotes and line breaks
and cells that begin with =, +, - or @; XML answers with Polish letters, &amp; and CDATA.

Subjects worth knowing (their numbers are in expected.json, under "special"):

    heavy_1000      the person whose export is closest to 1,000 records
    biggest         the person with the largest export
    single          the first person with exactly one record
    nowhere         a person with no record anywhere, not even by phone
    duplicate       a person with a second CRM contact that has only their phone (rounds 2-4)
    phone_only      a person with contest entries that carry only a phone, found via the contact
    unreachable     a person without a CRM contact whose phone-only entries an e-mail cannot find
    shared_invoice  the one intended cross-link: this person has an extra enrolment on another
                    person's invoice (a company invoice for two attendees), so their export also
                    holds that invoice's lines; the other person's export is unaffected. No other
                    e-mail, phone or invoice number is shared between people (checked).

    giant           only with --giant K: one extra person (number N + 1, after the N others,
                    request P-<N+1>) with about K records, for the peak-memory benchmark

--giant K adds that one person to an otherwise unchanged generator (--people defaults to 50 then:
`people.py --giant 100000` writes .build-bench/giant-100000/, ~20 MB, in about 2 s). The giant
has one CRM contact with a phone and, of its records, about 50% CRM events, 35% training records
(enrolments on invoices of 8-24 lines each, so mostly JSON Lines invoice lines), 10% contest
entries (XML, a fifth of them with only the phone) and 5% mailing rows (CSV), and one jury seat.
Its line is in oracle.jsonl and requests.csv like everybody's; the other special people are chosen
among the N others. The stamp names K, so a folder is rebuilt when K changes.

Noise nobody's request reaches: anonymised contacts (no e-mail, no phone) with events, invoice
lines of invoices no enrolment names, unsubscribed mailing rows with anonymised addresses.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import math
import multiprocessing
import os
import shutil
import sqlite3
import subprocess
import sys
import time
import zipfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from statistics import NormalDist

GENERATOR_VERSION = 1
DEFAULT_PEOPLE = 10_000
DEFAULT_GIANT_PEOPLE = 50       # --people when --giant is given without it
REPO = Path(__file__).resolve().parents[2]
AS_OF = "2026-01-31T09:00:00Z"

EPOCH = 1_546_300_800          # 2019-01-01T00:00:00Z
SPAN = 7 * 365 * 86_400        # up to the end of 2025

# Dataset names as the manifest spells them (source/dataset), in the order of the map.
DATASETS = ["crm/contacts", "crm/events", "training/enrolments", "training/invoice_lines",
            "contests/entries", "contests/jury", "mailing/subscribers"]

# ------------------------------------------------------------------------------- hashing

M64 = (1 << 64) - 1


def h(*parts: int) -> int:
    """A 64-bit hash of a tuple of integers (splitmix64 applied to each part in turn)."""
    x = 0x243F6A8885A308D3
    for p in parts:
        x = (x ^ p) + 0x9E3779B97F4A7C15 & M64
        x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9 & M64
        x = (x ^ (x >> 27)) * 0x94D049BB133111EB & M64
        x ^= x >> 31
    return x


def unit(x: int) -> float:
    """A hash as a number in [0, 1)."""
    return (x >> 11) / 9007199254740992.0


# Salts: one per use, so that two decisions about the same row are independent.
(S_CLASS, S_NAME, S_MAIL, S_PHONE, S_TOTAL, S_SPLIT, S_CONTACT, S_DUP, S_TRAIN, S_ENROL,
 S_ENTRY, S_MAILING, S_JURY, S_EVENT, S_TIME, S_FMT, S_TEXT, S_NOISE) = range(1, 19)

# ------------------------------------------------------------------------------- vocabulary

FIRST = ["Anna", "Piotr", "Maria", "Krzysztof", "Katarzyna", "Tomasz", "Agnieszka", "Paweł",
         "Małgorzata", "Michał", "Zofia", "Jan", "Ewa", "Marek", "Joanna", "Łukasz", "Żaneta",
         "Grzegorz", "Beata", "Mirosław", "Dorota", "Jędrzej", "Urszula", "Sławomir"]
LAST = ["Nowak", "Kowalska", "Wiśniewski", "Wójcik", "Kowalczyk", "Kamińska", "Lewandowski",
        "Zielińska", "Szymański", "Woźniak", "Dąbrowska", "Kozłowski", "Jankowska", "Mazur",
        "Gołębiowski", "Krawczyk", "Piątek", "Grabowska", "Pawłowski", "Michalak", "Król",
        "Wieczorek", "Jabłońska", "Nowicki", "Majewska", "Olszewski", "Stępień", "Malinowska"]
DOMAINS = ["example.pl", "example.com", "poczta.example.pl", "mail.example.com",
           "firma.example.pl", "skrzynka.example.pl"]
CITIES = [("Warszawa", "00-"), ("Kraków", "30-"), ("Łódź", "90-"), ("Wrocław", "50-"),
          ("Poznań", "60-"), ("Gdańsk", "80-"), ("Szczecin", "70-"), ("Lublin", "20-"),
          ("Białystok", "15-"), ("Zielona Góra", "65-")]
FOLD = str.maketrans("ąćęłńóśźżĄĆĘŁŃÓŚŹŻ", "acelnoszzACELNOSZZ")
# Polish mobile ranges (libphonenumber PL metadata: 45, 50, 51, 53, 57, 60, 66, 69, 72, 73, 78,
# 79, 88, then 7 digits); one in ten people has a Warsaw landline (22 then [2-9] and 6 digits).
MOBILE = ["50", "51", "53", "57", "60", "66", "69", "72", "73", "78", "79", "88", "45"]

EVENT_KINDS = ["email_open", "email_click", "page_view", "form_submit", "call", "meeting", "note"]
EVENT_DETAILS = {
    "email_open": "Otwarcie wiadomości „{c}” (kampania {m}); klient poczty: Thunderbird {v}",
    "email_click": "Kliknięcie linku w „{c}”: https://example.pl/oferty/{v}?utm=nl",
    "page_view": "Odsłona strony /szkolenia/{v} (źródło: wyszukiwarka, sesja {s})",
    "form_submit": "Formularz kontaktowy: pytanie o termin szkolenia „{c}”, sesja {s}",
    "call": "Rozmowa telefoniczna ({v} min): ustalenie terminu i formy płatności",
    "meeting": "Spotkanie w biurze, ul. Ligustrowa 10; omówienie oferty „{c}”",
    "note": "Notatka konsultanta: prosi o kontakt po {v}:00, preferuje e-mail",
}
CAMPAIGNS = ["Nowe szkolenia w marcu", "Rekrutacja IT — oferty tygodnia", "Webinar: Power BI",
             "Zaproszenie na targi pracy", "Ankieta satysfakcji"]
COURSES = [("SQL-BI", "SQL i Power BI dla analityków", "1200.00"),
           ("PY-DATA", "Python w analizie danych", "1800.00"),
           ("REKR-IT", "Rekrutacja w IT", "950.00"),
           ("EXCEL-PRO", "Excel dla zaawansowanych", "690.00"),
           ("AGILE", "Zarządzanie projektami zwinnie & Scrum", "1450.00"),
           ("WEB-REKR", "Webinar: rekrutacja w IT (bezpłatny)", "0.00")]
LINE_ITEMS = [("Udział w szkoleniu", "os.", "23"), ("Materiały szkoleniowe", "kpl.", "23"),
              ("Egzamin certyfikacyjny", "szt.", "23"), ("Catering", "os.", "8"),
              ("Nocleg — hotel partnerski", "doba", "8")]
STATUSES = ["completed", "completed", "completed", "confirmed", "cancelled", "waitlist"]
ANSWERS = ["Moje miejsce pracy to biurko przy oknie; kubek z logo i zielona paprotka.",
           "Pokój socjalny <3 i ekspres ciśnieniowy — najlepsze rozmowy są przy kawie.",
           "Open space o 7 rano: jeszcze pusto, słychać tylko klimatyzację & klawiatury.",
           "Kawa, kod, \"code review\" — i żółw na biurku, który wszystko widział.",
           "Zdjęcie z pociągu Warszawa–Gdańsk: laptop, słuchawki, żadnego zasięgu.",
           "Gabinet z widokiem na Wisłę; źródło światła: ogromne okno i lampka z IKEA."]
ROLES = ["przewodniczący", "członek", "członkini", "sekretarz"]
LISTS = ["newsletter", "webinary", "oferty-pracy", "szkolenia", "wydarzenia"]
TAGS = ["", "VIP", "Blog,Newsletter", "Szkolenia", "Rekrutacja IT", "Targi 2024"]
NOTES = ["", "", "", "", "prefers e-mail, not phone",
         "Zapisany na targach, stoisko 12,\nprosi o ofertę szkoleń SQL",
         "=HYPERLINK(\"https://example.pl/wypisz\",\"wypisz\")", "+1 z webinaru (polecenie)",
         "-- nie dzwonić", "@marketing: sprawdzić zgodę",
         "Zgoda z formularza \"Kontakt\", wersja 3"]
CONTACT_NOTES = ["", "", "Klient szkoleniowy; faktury na firmę.",
                 "Kandydat: analityk danych, Kraków lub zdalnie.",
                 "Poprosiła o usunięcie z listy telefonicznej,\nkontakt tylko mailowo.",
                 "Polecony przez partnera; pyta o szkolenie „Python w analizie danych”."]


def fold(s: str) -> str:
    return s.translate(FOLD).lower()


def stamp(ts: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


# ------------------------------------------------------------------------------- the plan

class Contact:
    __slots__ = ("person", "k", "crm_id", "has_email", "has_phone", "events", "enrolments",
                 "created")

    def __init__(self, person: int, k: int, has_email: bool, has_phone: bool):
        self.person, self.k = person, k
        self.crm_id = 0                       # assigned once every contact is known
        self.has_email, self.has_phone = has_email, has_phone
        self.events = 0
        self.enrolments: list[int] = []       # invoice sequence numbers, 0 = no invoice
        self.created = EPOCH + h(person, k, S_TIME) % (SPAN // 2)


class Person:
    __slots__ = ("n", "cls", "first", "last", "email", "phone", "contacts", "entries", "mailing",
                 "jury")

    def __init__(self, n: int, cls: str):
        self.n, self.cls = n, cls
        x = h(n, S_NAME)
        self.first, self.last = FIRST[x % len(FIRST)], LAST[(x >> 8) % len(LAST)]
        self.email = person_email(n, self.first, self.last)
        self.phone: str | None = None         # national significant number (9 digits) or None
        self.contacts: list[Contact] = []
        self.entries: list[int] = []          # per entry: 0 e-mail only, 1 both, 2 phone only
        self.mailing = 0
        self.jury = 0


def person_email(n: int, first: str, last: str) -> str:
    """Unique by construction: every pattern holds the person number."""
    x = h(n, S_MAIL)
    f, l = fold(first), fold(last)
    local = [f"{f}.{l}.{n}", f"{f}{n}", f"{f[0]}_{l}{n}", f"{l}.{f}{n}"][x % 4]
    return f"{local}@{DOMAINS[(x >> 4) % len(DOMAINS)]}"


def person_phone(n: int) -> str:
    """A valid Polish number, unique per person: the last 7 digits are a bijection of n."""
    x = h(n, S_PHONE)
    tail = (n * 7_919 + 1_234_567) % 10_000_000     # 7919 is prime to 10: distinct for n < 10^7
    if x % 10 == 0 and tail >= 2_000_000:           # a landline: 22, then [2-9] and 6 digits
        return f"22{tail:07d}"
    return f"{MOBILE[(x >> 8) % len(MOBILE)]}{tail:07d}"


def phone_text(nsn: str, variant: int) -> str:
    """One of the ways people type the number (all normalise to +48<nsn> with region PL)."""
    if nsn.startswith("22"):
        a, b, c, d = nsn[:2], nsn[2:5], nsn[5:7], nsn[7:]
        forms = [f"({a}) {b} {c} {d}", f"{a} {b} {c} {d}", f"+48 {a} {b} {c} {d}", f"0048{nsn}",
                 f"{a}-{b}-{c}-{d}", f"+48 ({a}) {b}-{c}-{d}", f"+48{nsn}",
                 f"0048 ({a}) {b} {c} {d}"]
    else:
        a, b, c = nsn[:3], nsn[3:6], nsn[6:]
        forms = [f"+48 {a} {b} {c}", f"+48{nsn}", f"{a} {b} {c}", f"{a}-{b}-{c}", nsn,
                 f"0048 {a} {b} {c}", f"(+48) {a} {b} {c}", f"+48-{a}-{b}-{c}"]
    return forms[variant % len(forms)]


PHONE_VARIANTS = 8


def email_text(email: str, variant: int, spaces: bool) -> str:
    """The e-mail in varied case (ASCII only, so SQLite's lower() and Swift agree), optionally
    with surrounding white space (only where the map's normalisation trims: CSV and XML)."""
    local, domain = email.split("@")
    v = variant % 5
    if v == 1:
        s = ".".join(p.capitalize() for p in local.split(".")) + "@" + domain.capitalize()
    elif v == 2:
        s = email.upper()
    elif v == 3:
        s = local + "@" + domain.upper()
    elif v == 4:
        s = local.capitalize() + "@" + domain
    else:
        s = email
    if spaces:
        s = ["", " ", "  ", "\t"][(variant >> 3) % 4] + s + ["", " ", "", "  "][(variant >> 5) % 4]
    return s


def block_classes(n_people: int) -> list[str]:
    """In each block of 100 people: 1 heavy, 5 nowhere, 5 light, 89 ordinary (hash-placed)."""
    out = []
    for b in range((n_people + 99) // 100):
        order = sorted(range(100), key=lambda i: h(b, i, S_CLASS))
        cls = ["ordinary"] * 100
        cls[order[0]] = "heavy"
        for i in order[1:6]:
            cls[i] = "nowhere"
        for i in order[6:11]:
            cls[i] = "light"
        out.extend(cls)
    return out[:n_people]


ORDINARY = NormalDist(math.log(85), 0.75)


class Plan:
    """Everything the writers and the oracle need, computed identically in every process."""

    def __init__(self, n_people: int, giant: int = 0):
        self.n_people = n_people
        self.giant = giant                           # records of the extra person (0: none)
        self.people: list[Person] = []
        self.invoice_lines: list[int] = [0]          # per invoice sequence number: line count
        self.invoice_owner: list[int] = [0]
        classes = block_classes(n_people)
        for n in range(1, n_people + 1):
            self.people.append(self.person(n, classes[n - 1]))
        if giant:
            self.people.append(self.giant_person(n_people + 1, giant))
        self.shared = self.add_shared_invoice()
        # CRM ids in an order unrelated to person numbers; anonymised contacts mixed in.
        contacts = [c for p in self.people for c in p.contacts]
        self.noise_contacts = [Contact(0, k, False, False) for k in range(max(1, n_people // 100))]
        for k, c in enumerate(self.noise_contacts):
            c.events = 1 + h(k, S_NOISE) % 12
        contacts += self.noise_contacts
        contacts.sort(key=lambda c: (c.created, h(c.person, c.k, S_CONTACT)))
        for i, c in enumerate(contacts, 1):
            c.crm_id = i
        self.contacts = contacts
        self.noise_invoices = max(1, n_people // 50)  # invoices no enrolment names (1-3 lines)
        self.noise_mailing = max(1, n_people // 40)   # unsubscribed, anonymised
        # An invoice is issued 0-13 days after the first enrolment that names it.
        n_real = len(self.invoice_lines) - 1
        self.invoice_time = [0] * (n_real + self.noise_invoices + 1)
        for c in contacts:
            for j, inv in enumerate(c.enrolments):
                t = self.enrolment_time(c, j) + h(inv, S_TIME) % (14 * 86_400)
                if inv and (not self.invoice_time[inv] or t < self.invoice_time[inv]):
                    self.invoice_time[inv] = t
        for inv in range(n_real + 1, len(self.invoice_time)):
            self.invoice_time[inv] = EPOCH + h(inv, S_NOISE, 2) % SPAN

    @staticmethod
    def enrolment_time(c: Contact, j: int) -> int:
        return c.created + h(c.crm_id, j, S_TIME) % (EPOCH + SPAN - c.created)

    def invoice_number(self, inv: int) -> str:
        return f"FV/{time.gmtime(self.invoice_time[inv]).tm_year}/{inv:06d}"

    def new_invoice(self, owner: int, lines: int) -> int:
        self.invoice_lines.append(lines)
        self.invoice_owner.append(owner)
        return len(self.invoice_lines) - 1

    def person(self, n: int, cls: str) -> Person:
        p = Person(n, cls)
        x = h(n, S_CONTACT)
        has_phone = cls == "heavy" or unit(h(n, S_PHONE, 1)) < 0.88
        if has_phone:
            p.phone = person_phone(n)
        if cls == "nowhere":
            # Some have contest entries with only their phone: planted, but unreachable by e-mail.
            if p.phone and x % 10 < 3:
                p.entries = [2] * (1 + (x >> 8) % 4)
            return p
        if cls == "light":
            total, kind = 1 + (x >> 4) % 3, (x >> 8) % 4
            if kind == 0:
                c = Contact(n, 0, True, has_phone)
                c.events = total - 1
                p.contacts.append(c)
            elif kind == 1:
                p.mailing = total
            elif kind == 2:
                p.entries = [0] * total
            else:
                p.mailing, p.entries = 1, [0] * (total - 1)
            return p
        if cls == "heavy":
            total = round(1000 + 4000 * unit(h(n, S_TOTAL)) ** 12)
            has_contact = True
        else:
            u = min(max(unit(h(n, S_TOTAL)), 1e-9), 1 - 1e-9)
            total = min(700, max(6, round(math.exp(ORDINARY.inv_cdf(u)))))
            has_contact = x % 100 < 85
        if unit(h(n, S_JURY)) < 0.02:
            p.jury = 1 + h(n, S_JURY, 1) % 3
        w = [(0.46, 0.28, 0.165, 0.075)[i] * (0.5 + unit(h(n, S_SPLIT, i))) for i in range(4)]
        if not has_contact:
            # Newsletter and contest people: fewer records, no CRM card.
            total = max(1, round(total * 0.25))
            share = w[2] / (w[2] + w[3])
            n_entries = round(total * share)
            p.entries = self.entry_variants(n, n_entries, has_phone)
            p.mailing = total - n_entries
            return p
        main = Contact(n, 0, True, has_phone and (cls == "heavy" or (x >> 8) % 100 < 92))
        p.contacts.append(main)
        if has_phone and (x >> 16) % 100 < 4:
            # A duplicate card made from a phone call: no e-mail, the phone in another format.
            p.contacts.append(Contact(n, 1, False, True))
        rest = total - len(p.contacts)
        s = sum(w)
        events = round(rest * w[0] / s)
        budget = round(rest * w[1] / s)
        n_entries = round(rest * w[2] / s)
        p.mailing = max(0, rest - events - budget - n_entries)
        if cls != "heavy" and (x >> 24) % 100 >= 75:    # never trained: those records are events
            events, budget = events + budget, 0
        p.entries = self.entry_variants(n, n_entries, has_phone)
        dup = p.contacts[1] if len(p.contacts) > 1 else None
        main.events = events - (events // 5 if dup else 0)
        if dup:
            dup.events = events // 5
        # Enrolments, each on its own invoice (1-3 lines), sometimes none (free webinar), sometimes
        # on the previous enrolment's invoice (two courses bought together).
        used, j = 0, 0
        while used < budget:
            c = dup if dup and j % 4 == 3 else main
            y = h(n, j, S_ENROL)
            if y % 100 < 8:
                inv = 0
            elif y % 100 < 23 and c.enrolments and c.enrolments[-1]:
                inv = c.enrolments[-1]
            else:
                inv = self.new_invoice(n, 1 + (y >> 8) % 3)
                used += self.invoice_lines[inv]
            c.enrolments.append(inv)
            used += 1
            j += 1
        return p

    def giant_person(self, n: int, total: int) -> Person:
        """--giant: one contact with a phone and about `total` records, mostly CRM events and
        invoice lines (invoices of 8-24 lines), some contest entries and mailing rows."""
        p = Person(n, "giant")
        p.phone = person_phone(n)
        main = Contact(n, 0, True, True)
        p.contacts.append(main)
        p.jury = 1
        rest = max(0, total - 2)                    # the contact and the jury seat
        main.events = round(rest * 0.50)
        budget = round(rest * 0.35)
        p.entries = self.entry_variants(n, round(rest * 0.10), True)
        p.mailing = max(0, rest - main.events - budget - len(p.entries))
        used, j = 0, 0
        while used < budget:
            y = h(n, j, S_ENROL)
            if y % 100 < 5 or budget - used < 9:
                inv = 0                             # a free webinar: no invoice
            elif y % 100 < 15 and main.enrolments and main.enrolments[-1]:
                inv = main.enrolments[-1]           # two courses on one invoice
            else:
                inv = self.new_invoice(n, min(8 + (y >> 8) % 17, budget - used - 1))
                used += self.invoice_lines[inv]
            main.enrolments.append(inv)
            used += 1
            j += 1
        return p

    @staticmethod
    def entry_variants(n: int, count: int, has_phone: bool) -> list[int]:
        if not has_phone:
            return [0] * count
        out = []
        for k in range(count):
            r = h(n, k, S_ENTRY) % 10
            out.append(0 if r < 5 else 1 if r < 8 else 2)
        return out

    def add_shared_invoice(self) -> tuple[int, int, int] | None:
        """The one intended cross-link: person a gets an extra enrolment on person b's invoice."""
        def invoiced(p: Person) -> list[int]:
            return [inv for c in p.contacts[:1] for inv in c.enrolments if inv]
        candidates = [p for p in self.people if p.cls == "ordinary" and invoiced(p)]
        if len(candidates) < 2:
            return None
        a, b = candidates[0], candidates[1]
        inv = invoiced(b)[0]
        a.contacts[0].enrolments.append(inv)
        return a.n, b.n, inv


# ------------------------------------------------------------------------------- the oracle

def oracle(plan: Plan, p: Person) -> dict:
    """What an e-mail request by p must export: the map's fixed point, over p's records (and the
    invoice lines their enrolments name, which is the one place records of others can be found)."""
    phone_known = False
    found: list[Contact] = []
    while True:
        now = [c for c in p.contacts if c.has_email or (phone_known and c.has_phone)]
        phone_known = any(c.has_phone for c in now)
        if len(now) == len(found):
            break
        found = now
    invoices = {inv for c in found for inv in c.enrolments if inv}
    counts = {
        "crm/contacts": len(found),
        "crm/events": sum(c.events for c in found),
        "training/enrolments": sum(len(c.enrolments) for c in found),
        "training/invoice_lines": sum(plan.invoice_lines[i] for i in invoices),
        "contests/entries": sum(1 for v in p.entries if v < 2 or (v == 2 and phone_known)),
        "contests/jury": p.jury,
        "mailing/subscribers": p.mailing,
    }
    return {"person": p.n, "email": p.email, "phone": f"+48{p.phone}" if p.phone else None,
            "counts": counts, "total": sum(counts.values())}


def check_unique(plan: Plan) -> None:
    emails = [p.email for p in plan.people]
    phones = [p.phone for p in plan.people if p.phone]
    assert len(set(emails)) == len(emails), "two people share an e-mail"
    assert len(set(phones)) == len(phones), "two people share a phone"
    assert len({p.n for p in plan.people}) == len(plan.people), "two people share a number"
    owners = {}
    for p in plan.people:
        for c in p.contacts:
            for inv in c.enrolments:
                if inv:
                    owners.setdefault(inv, set()).add(p.n)
    shared = {inv for inv, who in owners.items() if len(who) > 1}
    assert shared == ({plan.shared[2]} if plan.shared else set()), f"shared invoices {shared}"


def verify_phones(plan: Plan) -> str:
    """Every written form of every number normalises to its E.164 form (when phonenumbers is
    installed; the generator does not need it)."""
    try:
        import phonenumbers
    except ImportError:
        return "phonenumbers not installed: phone forms not verified"
    bad = []
    for p in plan.people:
        if not p.phone:
            continue
        for v in range(PHONE_VARIANTS):
            text = phone_text(p.phone, v)
            num = phonenumbers.parse(text, "PL")
            e164 = phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)
            if e164 != f"+48{p.phone}" or not phonenumbers.is_valid_number(num):
                bad.append((p.n, text, e164))
    if bad:
        raise SystemExit(f"people: phone forms that do not normalise: {bad[:5]}")
    return "every phone form verified with phonenumbers"


# ------------------------------------------------------------------------------- SQLite

def write_sqlite(plan: Plan, path: Path) -> dict:
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
        id INTEGER PRIMARY KEY, first_name TEXT, last_name TEXT, email TEXT, phone TEXT,
        created_at TEXT NOT NULL, notes TEXT)""")
    db.execute("""CREATE TABLE events (
        id INTEGER PRIMARY KEY, contact_id INTEGER NOT NULL REFERENCES contacts(id),
        at TEXT NOT NULL, kind TEXT NOT NULL, detail TEXT)""")
    people = plan.people

    def contacts():
        for c in plan.contacts:
            x = h(c.person, c.k, S_FMT)
            if c.person == 0:
                yield (c.crm_id, "(usunięty)", None, None, None, stamp(c.created),
                       "Dane zanonimizowane na żądanie (art. 17 RODO).")
                continue
            p = people[c.person - 1]
            email = email_text(p.email, x, False) if c.has_email else None
            # The duplicate card spells the number differently from the main one.
            phone = phone_text(p.phone, (x >> 16) + c.k * 3) if c.has_phone else None
            yield (c.crm_id, p.first, p.last, email, phone, stamp(c.created),
                   CONTACT_NOTES[(x >> 24) % len(CONTACT_NOTES)] or None)

    db.executemany("INSERT INTO contacts VALUES (?,?,?,?,?,?,?)", contacts())
    # Events in time order across everybody (ids follow time, as in a real log).
    order = []
    for c in plan.contacts:
        room = EPOCH + SPAN - c.created
        for k in range(c.events):
            order.append((c.created + h(c.crm_id, k, S_EVENT) % room, c.crm_id, k))
    order.sort()

    def events():
        for i, (t, cid, k) in enumerate(order, 1):
            x = h(cid, k, S_TEXT)
            kind = EVENT_KINDS[x % len(EVENT_KINDS)]
            detail = EVENT_DETAILS[kind].format(
                c=CAMPAIGNS[(x >> 8) % len(CAMPAIGNS)], m=stamp(t)[:7], v=(x >> 16) % 120,
                s=f"{x >> 32:08x}")
            yield (i, cid, stamp(t), kind, detail)

    db.executemany("INSERT INTO events VALUES (?,?,?,?,?)", events())
    db.execute("CREATE INDEX contacts_email_lower ON contacts (lower(email))")
    db.execute("CREATE INDEX events_contact_id ON events (contact_id)")
    db.execute("COMMIT")
    db.execute("ANALYZE")
    db.close()
    return {"crm/contacts": len(plan.contacts), "crm/events": len(order)}


# ------------------------------------------------------------------------------- JSON Lines

def money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def write_jsonl(plan: Plan, path: Path) -> dict:
    path.parent.mkdir(parents=True, exist_ok=True)
    # (time, line number or 0 for an enrolment, crm id, enrolment number, invoice), in time order.
    rows = []
    for c in plan.contacts:
        for j, inv in enumerate(c.enrolments):
            rows.append((plan.enrolment_time(c, j), 0, c.crm_id, j, inv))
    # Invoice lines at their invoice's time; noise invoices (that no enrolment names) included.
    n_real = len(plan.invoice_lines) - 1
    for inv in range(1, len(plan.invoice_time)):
        lines = plan.invoice_lines[inv] if inv <= n_real else 1 + h(inv, S_NOISE) % 3
        for line in range(1, lines + 1):
            rows.append((plan.invoice_time[inv], line, 0, 0, inv))
    rows.sort()
    dumps = json.JSONEncoder(ensure_ascii=False).encode
    seq = 0
    with open(path, "w", encoding="utf-8", newline="\n", buffering=1 << 20) as f:
        chunk = []
        for t, line, cid, j, inv in rows:
            invoice = plan.invoice_number(inv) if inv else None
            if line == 0:
                seq += 1
                x = h(cid, j, S_TEXT)
                code, title, _ = COURSES[x % len(COURSES)]
                city, zip_prefix = CITIES[(x >> 8) % len(CITIES)]
                rec = {"type": "enrolment", "id": f"ENR-{seq:07d}",
                       # contact_id is a number on most lines and text on some: "17" matches 17.
                       "contact_id": str(cid) if (x >> 16) % 5 == 0 else cid,
                       "course": {"code": code, "title": title,
                                  "edition": f"{stamp(t)[:7].replace('-', '/')} {city}"},
                       "enrolled_at": stamp(t),
                       "status": STATUSES[(x >> 20) % len(STATUSES)],
                       "invoice": invoice}
                if (x >> 24) % 3 == 0:
                    rec["billing"] = {"city": city, "zip": f"{zip_prefix}{(x >> 28) % 1000:03d}"}
                if (x >> 32) % 7 == 0:
                    rec["comment"] = "Prośba o fakturę na firmę; dieta wegetariańska."
            else:
                x = h(inv, line, S_TEXT)
                item, unit_name, vat_rate = LINE_ITEMS[(line - 1 + x) % len(LINE_ITEMS)]
                qty = 1 + (x >> 8) % 3
                unit_net = 4900 + (x >> 12) % 150000
                net = qty * unit_net
                vat = (net * int(vat_rate) + 50) // 100
                rec = {"type": "invoice_line", "invoice": invoice, "line": line,
                       "description": item, "quantity": qty, "unit": unit_name,
                       "unit_net": money(unit_net), "vat_rate": vat_rate, "net": money(net),
                       "vat": money(vat), "gross": money(net + vat)}
            chunk.append(dumps(rec) + "\n")
            if len(chunk) >= 20_000:
                f.write("".join(chunk))
                chunk.clear()
        f.write("".join(chunk))
    return {"training/enrolments": seq, "training/invoice_lines": len(rows) - seq}


# ------------------------------------------------------------------------------- XML

ENTRIES_PER_CONTEST = 400


def xml_text(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def write_xml(plan: Plan, path: Path) -> dict:
    path.parent.mkdir(parents=True, exist_ok=True)
    people = plan.people
    order = []
    for p in people:
        for k, v in enumerate(p.entries):
            order.append((EPOCH + h(p.n, k, S_TIME, 3) % SPAN, p.n, k, v))
    order.sort()
    n_contests = max(1, -(-len(order) // ENTRIES_PER_CONTEST))
    juries: list[list[tuple[int, int]]] = [[] for _ in range(n_contests)]
    for p in people:
        for j in range(p.jury):
            juries[h(p.n, j, S_JURY, 2) % n_contests].append((p.n, j))
    member_seq = 0
    with open(path, "w", encoding="utf-8", newline="\n", buffering=1 << 20) as f:
        f.write('<?xml version="1.0" encoding="UTF-8"?>\n'
                "<!-- Contests (fictitious). Generated by Tests/bench/people.py. -->\n"
                "<contests>\n")
        chunk = []
        for c in range(n_contests):
            first = order[c * ENTRIES_PER_CONTEST][0] if order else EPOCH
            chunk.append(f'  <contest id="K-{c + 1:04d}" kind="single">\n'
                         f"    <title>Konkurs nr {c + 1}: „Moje miejsce pracy”</title>\n"
                         f"    <opens>{stamp(first)[:10]}</opens>\n")
            if juries[c]:
                chunk.append("    <jury>\n")
                for n, j in juries[c]:
                    member_seq += 1
                    p = people[n - 1]
                    x = h(n, j, S_JURY, 3)
                    chunk.append(
                        f'      <member id="J-{member_seq:05d}" role="{ROLES[x % len(ROLES)]}">'
                        f"<name>{xml_text(p.first)} {xml_text(p.last)}</name>"
                        f"<email>{xml_text(email_text(p.email, x >> 8, True))}</email>"
                        "</member>\n")
                chunk.append("    </jury>\n")
            for i in range(c * ENTRIES_PER_CONTEST, min(len(order), (c + 1) * ENTRIES_PER_CONTEST)):
                t, n, k, v = order[i]
                p = people[n - 1]
                x = h(n, k, S_FMT, 3)
                name = f"{p.first} {p.last}" if x % 4 else f"{p.first} {p.last[0]}."
                parts = [f'    <entry id="E-{i + 1:07d}" contest="K-{c + 1:04d}">\n'
                         f"      <name>{xml_text(name)}</name>\n"]
                if v < 2:
                    email = xml_text(email_text(p.email, x >> 4, True))
                    parts.append(f"      <email>{email}</email>\n")
                if v > 0:
                    parts.append(f"      <phone>{phone_text(p.phone, x >> 20)}</phone>\n")
                answer = ANSWERS[(x >> 24) % len(ANSWERS)]
                if (x >> 28) % 8 == 0:      # raw text in CDATA: & and < need no escaping there
                    parts.append(f"      <answer><![CDATA[{answer}]]></answer>\n")
                else:
                    parts.append(f"      <answer>{xml_text(answer)}</answer>\n")
                parts.append(f"      <submitted_at>{stamp(t)}</submitted_at>\n")
                if (x >> 32) % 4 == 0:
                    city, zip_prefix = CITIES[(x >> 36) % len(CITIES)]
                    parts.append(f"      <address><street>ul. Polna {(x >> 40) % 120 + 1}</street>"
                                 f"<postcode>{zip_prefix}{(x >> 44) % 1000:03d}</postcode>"
                                 f"<city>{city}</city></address>\n")
                parts.append("    </entry>\n")
                chunk.append("".join(parts))
            chunk.append("  </contest>\n")
            if len(chunk) >= 10_000:
                f.write("".join(chunk))
                chunk.clear()
        chunk.append("</contests>\n")
        f.write("".join(chunk))
    return {"contests/entries": len(order), "contests/jury": member_seq}


# ------------------------------------------------------------------------------- CSV

CSV_HEADER = ["Email Address", "First Name", "OPTIN_TIME", "Last Name", "OPTIN_IP", "CONFIRM_TIME",
              "LIST", "MEMBER_RATING", "TIMEZONE", "CC", "LAST_CHANGED", "LEID",
              "EUID", "TAGS", "NOTES"]


def write_csv(plan: Plan, path: Path) -> dict:
    path.parent.mkdir(parents=True, exist_ok=True)
    order = []
    for p in plan.people:
        for k in range(p.mailing):
            order.append((EPOCH + h(p.n, k, S_MAILING) % SPAN, p.n, k))
    for k in range(plan.noise_mailing):
        order.append((EPOCH + h(k, S_NOISE, 1) % SPAN, 0, k))
    order.sort()
    with open(path, "w", encoding="utf-8", newline="", buffering=1 << 20) as f:
        w = csv.writer(f, lineterminator="\r\n")
        w.writerow(CSV_HEADER)
        rows = []
        for i, (t, n, k) in enumerate(order, 1):
            x = h(n, k, S_MAILING, 1)
            if n:
                p = plan.people[n - 1]
                email, first, last = email_text(p.email, x, True), p.first, p.last
                notes = NOTES[(x >> 8) % len(NOTES)]
            else:       # unsubscribed and anonymised: reaches nobody
                email, first, last = f"anon-{x >> 24:010x}@deleted.invalid", "", ""
                notes = "unsubscribed; data removed"
            ip = (f"192.0.2.{(x >> 16) % 254 + 1}" if x % 3
                  else f"2001:db8:{x >> 40:x}::{(x >> 8) % 4096:x}")
            rows.append((email, first, stamp(t).replace("T", " ")[:19], last, ip,
                         stamp(t + 60 + (x >> 12) % 3600).replace("T", " ")[:19],
                         LISTS[(x >> 20) % len(LISTS)], 1 + (x >> 28) % 5, "Europe/Warsaw", "PL",
                         stamp(t + (x >> 32) % 86400 * 30).replace("T", " ")[:19],
                         100_000_000 + i, f"{x >> 32:08x}{(x >> 4) % 256:02x}",
                         TAGS[(x >> 36) % len(TAGS)], notes))
            if len(rows) >= 20_000:
                w.writerows(rows)
                rows.clear()
        w.writerows(rows)
    return {"mailing/subscribers": len(order)}


# ------------------------------------------------------------------------------- data map

DATA_MAP = """\
# Data map of the batch benchmark written by Tests/bench/people.py (generator version {version},
# {people} people). Paths are relative to this file's folder.
# Do not edit: the generator rewrites it.
version: 1

controller:
  name: Bench Szkolenia i Rekrutacja Sp. z o.o.
  address: ul. Testowa 1, 00-001 Warszawa
  email: privacy@bench.example.com
  phone: +48 22 100 00 00
  website: https://bench.example.com
  dpo:
    name: Inspektor Ochrony Danych
    email: iod@bench.example.com
  supervisory_authority:
    name: Prezes Urzędu Ochrony Danych Osobowych
    address: ul. Stawki 2, 00-193 Warszawa
    website: https://uodo.gov.pl
  languages: [pl, en]
  default_region: PL

fees:
  currency: PLN
  further_copy: "25.00"
  per_megabyte: "0.10"

resolution:
  max_rounds: 6

purposes:
  crm:
    title: {{ en: Customer relationship management, pl: Zarządzanie relacjami z klientami }}
    legal_basis: legitimate_interests
    legitimate_interest:
      en: Keeping track of our contacts with customers, trainees and candidates.
      pl: Prowadzenie historii kontaktów z klientami, uczestnikami szkoleń i kandydatami.
  marketing:
    title:
      en: Newsletter and information about our services
      pl: Newsletter i informacje o naszych usługach
    legal_basis: consent
  training:
    title: {{ en: Organising and running training courses, pl: Organizacja i prowadzenie szkoleń }}
    legal_basis: contract
  accounting:
    title:
      en: Issuing and keeping invoices (tax and accounting law)
      pl: Wystawianie i przechowywanie faktur (przepisy podatkowe i rachunkowe)
    legal_basis: legal_obligation
  contests:
    title: {{ en: Organising and running contests, pl: Organizacja i przeprowadzanie konkursów }}
    legal_basis: consent

categories:
  identity:
    title: {{ en: Name, pl: Imię i nazwisko }}
  contact:
    title: {{ en: Contact details, pl: Dane kontaktowe }}
  address:
    title: {{ en: Postal address, pl: Adres korespondencyjny }}
  technical:
    title:
      en: Technical data (IP addresses, time zones)
      pl: Dane techniczne (adresy IP, strefy czasowe)
  internal:
    title: {{ en: Our references and record metadata, pl: Identyfikatory i metadane rekordów }}
  correspondence:
    title: {{ en: Contacts with us, pl: Historia kontaktów }}
  marketing:
    title: {{ en: Mailing list membership, pl: Zapis na listę mailingową }}
  training:
    title: {{ en: Training courses, pl: Szkolenia }}
  financial:
    title: {{ en: Invoices and payments, pl: Faktury i płatności }}
  contest:
    title: {{ en: Contest entries and juries, pl: Zgłoszenia konkursowe i jury }}

recipients:
  hosting:
    title: {{ en: Hosting provider, pl: Dostawca hostingu }}
    country: PL
  training_partners:
    title:
      en: Partners who help us run training courses
      pl: Podmioty wspierające organizację szkoleń
    country: PL
  mailing_provider:
    title: {{ en: E-mail delivery provider, pl: Dostawca usług wysyłki e-mail }}
    country: US
    safeguard:
      en: Standard contractual clauses, Art. 46(2)(c)
      pl: Standardowe klauzule umowne, art. 46 ust. 2 lit. c RODO

sources:
  crm:
    title: {{ en: Customer relationship management (CRM), pl: System CRM }}
    kind: sqlite
    path: crm/crm.sqlite
    datasets:
      contacts:
        title: {{ en: Contact card, pl: Karta kontaktu }}
        key: [id]
        lookup:
          email: SELECT * FROM contacts WHERE lower(email) = :value
          phone: SELECT * FROM contacts WHERE normalize_phone(phone) = :value
        yields: {{ crm_id: id, email: email, phone: phone }}
        purposes: [crm, marketing, training]
        recipients: [hosting]
        retention:
          period: P3Y
          criteria:
            en: 3 years after our last contact with you
            pl: 3 lata od ostatniego kontaktu
        origin: subject
        fields:
          id: {{ category: internal, title: {{ en: Contact number, pl: Numer kontaktu }} }}
          first_name: {{ category: identity }}
          last_name: {{ category: identity }}
          email: {{ category: contact }}
          phone: {{ category: contact }}
          created_at: {{ category: internal, origin: observed }}
          notes: {{ category: correspondence, origin: derived, portable: false }}
      events:
        title: {{ en: Contact history, pl: Historia kontaktów }}
        key: [id]
        lookup:
          crm_id: SELECT * FROM events WHERE contact_id = :value
        purposes: [crm]
        recipients: [hosting]
        retention:
          period: P2Y
          criteria:
            en: 2 years after the event
            pl: 2 lata od zdarzenia
        origin: observed
        fields:
          id: {{ category: internal }}
          contact_id: {{ category: internal }}
          at: {{ category: correspondence }}
          kind: {{ category: correspondence }}
          detail: {{ category: correspondence }}

  training:
    title: {{ en: Training management, pl: System obsługi szkoleń }}
    kind: jsonl
    path: training/events.jsonl
    datasets:
      enrolments:
        title: {{ en: Training enrolments, pl: Zgłoszenia na szkolenia }}
        where: {{ type: enrolment }}
        key: [id]
        lookup: {{ crm_id: contact_id }}
        yields: {{ invoice_id: invoice }}
        purposes: [training]
        recipients: [training_partners]
        retention:
          period: P5Y
          criteria:
            en: 5 years after the training (claims under the contract)
            pl: 5 lat od szkolenia (roszczenia z umowy)
        origin: subject
        fields:
          type: {{ category: internal }}
          id: {{ category: internal }}
          contact_id: {{ category: internal }}
          course.code: {{ category: training }}
          course.title: {{ category: training }}
          course.edition: {{ category: training }}
          enrolled_at: {{ category: training, origin: observed }}
          status: {{ category: training, origin: derived }}
          invoice: {{ category: financial }}
          billing.city: {{ category: address }}
          billing.zip: {{ category: address }}
          comment: {{ category: training }}
      invoice_lines:
        title: {{ en: Invoice lines, pl: Pozycje faktur }}
        where: {{ type: invoice_line }}
        key: [invoice, line]
        lookup: {{ invoice_id: invoice }}
        purposes: [training, accounting]
        retention:
          period: P5Y
          criteria:
            en: 5 years from the end of the year in which the tax became due
            pl: 5 lat od końca roku, w którym powstał obowiązek podatkowy
        origin: derived
        fields:
          type: {{ category: internal }}
          invoice: {{ category: financial }}
          line: {{ category: financial }}
          description: {{ category: financial }}
          quantity: {{ category: financial }}
          unit: {{ category: financial }}
          unit_net: {{ category: financial }}
          vat_rate: {{ category: financial }}
          net: {{ category: financial }}
          vat: {{ category: financial }}
          gross: {{ category: financial }}

  contests:
    title: {{ en: Contests, pl: Konkursy }}
    kind: xml
    path: contests/entries.xml
    datasets:
      entries:
        title: {{ en: Contest entries, pl: Zgłoszenia konkursowe }}
        record: /contests/contest/entry
        key: [id]
        lookup: {{ email: email, phone: phone }}
        purposes: [contests]
        retention:
          period: P1Y
          criteria:
            en: 1 year after the contest ends
            pl: 1 rok od zakończenia konkursu
        origin: subject
        fields:
          id: {{ category: internal }}
          contest: {{ category: contest }}
          name: {{ category: identity }}
          email: {{ category: contact }}
          phone: {{ category: contact }}
          answer: {{ category: contest }}
          submitted_at: {{ category: contest, origin: observed }}
          address.street: {{ category: address }}
          address.postcode: {{ category: address }}
          address.city: {{ category: address }}
      jury:
        title: {{ en: Contest juries, pl: Jury konkursów }}
        record: /contests/contest/jury/member
        key: [id]
        lookup: {{ email: email }}
        purposes: [contests]
        retention:
          period: P1Y
          criteria:
            en: 1 year after the contest ends
            pl: 1 rok od zakończenia konkursu
        origin: subject
        fields:
          id: {{ category: internal }}
          role: {{ category: contest }}
          name: {{ category: identity }}
          email: {{ category: contact }}

  mailing:
    title: {{ en: Newsletter mailing list, pl: Lista mailingowa newslettera }}
    kind: csv
    path: mailing/subscribers.csv
    datasets:
      subscribers:
        title: {{ en: Newsletter subscriptions, pl: Subskrypcje newslettera }}
        key: [LEID]
        lookup:
          email: Email Address
        purposes: [marketing]
        recipients: [mailing_provider]
        retention:
          criteria:
            en: Until you unsubscribe or withdraw your consent
            pl: Do wypisania się lub wycofania zgody
        origin: subject
        fields:
          Email Address: {{ category: contact }}
          First Name: {{ category: identity }}
          Last Name: {{ category: identity }}
          OPTIN_TIME: {{ category: marketing, origin: observed }}
          OPTIN_IP: {{ category: technical, origin: observed }}
          CONFIRM_TIME: {{ category: marketing, origin: observed }}
          LIST: {{ category: marketing }}
          MEMBER_RATING: {{ category: marketing, origin: derived, portable: false }}
          TIMEZONE: {{ category: technical, origin: derived }}
          CC: {{ category: technical, origin: derived }}
          LAST_CHANGED: {{ category: marketing, origin: observed }}
          LEID: {{ category: internal, origin: derived }}
          EUID: {{ category: internal, origin: derived }}
          TAGS: {{ category: marketing, origin: derived }}
          NOTES: {{ category: marketing, origin: derived }}
"""

SOURCE_FILES = ["crm/crm.sqlite", "training/events.jsonl", "contests/entries.xml",
                "mailing/subscribers.csv"]
FILES = ["people.yaml", "oracle.jsonl", "requests.csv", "requests.jsonl", "expected.json",
         *SOURCE_FILES]
WRITERS = {"crm/crm.sqlite": write_sqlite, "training/events.jsonl": write_jsonl,
           "contests/entries.xml": write_xml, "mailing/subscribers.csv": write_csv}


# ------------------------------------------------------------------------------- driver

PLAN: Plan | None = None     # built before the workers fork, so that they share it


def run_writer(name: str, out: str) -> tuple[str, dict, float]:
    start = time.monotonic()
    rows = WRITERS[name](PLAN, Path(out) / name)
    return name, rows, time.monotonic() - start


def generator_id(n_people: int, giant: int = 0) -> str:
    digest = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()
    extra = f" giant={giant}" if giant else ""
    return f"dossier-people-generator {GENERATOR_VERSION} {digest} people={n_people}{extra}\n"


def special_people(plan: Plan, rows: list[dict]) -> dict:
    """The person numbers expected.json names (see the docstring); the giant is named only as
    `giant`, the others are chosen among the N ordinary-generator people."""
    giant = [r["person"] for r in rows if plan.people[r["person"] - 1].cls == "giant"]
    rows = [r for r in rows if r["person"] not in giant]

    def pick(pred):
        return next((r["person"] for r in rows if pred(plan.people[r["person"] - 1], r)), None)
    near_1000 = min(rows, key=lambda r: (abs(r["total"] - 1000), r["person"]))
    out = {
        "heavy_1000": near_1000["person"] if near_1000["total"] else None,
        "biggest": max(rows, key=lambda r: (r["total"], -r["person"]))["person"],
        "single": pick(lambda p, r: r["total"] == 1),
        "nowhere": pick(lambda p, r: p.cls == "nowhere" and not p.entries),
        "duplicate": pick(lambda p, r: r["counts"]["crm/contacts"] == 2
                          and p.contacts[1].enrolments and p.contacts[1].events),
        "phone_only": pick(lambda p, r: p.contacts and 2 in p.entries
                           and r["counts"]["contests/entries"] == len(p.entries)),
        "unreachable": pick(lambda p, r: p.cls == "ordinary" and not p.contacts and 2 in p.entries),
        "shared_invoice": plan.shared[0] if plan.shared else None,
    }
    if giant:
        out["giant"] = giant[0]
    return out


def generate(out: Path, n_people: int, giant: int = 0) -> None:
    global PLAN
    start = time.monotonic()
    extra = f" and a giant of ~{giant:,} records" if giant else ""
    print(f"people: writing {out} ({n_people:,} people{extra}, generator version "
          f"{GENERATOR_VERSION})", flush=True)
    PLAN = plan = Plan(n_people, giant)
    check_unique(plan)
    print(f"people:   plan                       {time.monotonic() - start:6.1f} s", flush=True)
    rows_written: dict[str, int] = {}
    ctx = multiprocessing.get_context("fork")
    workers = max(1, min(4, os.cpu_count() or 1))
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        # Longest first: the two workers share the four files about evenly.
        futures = [pool.submit(run_writer, name, str(out)) for name in
                   ["crm/crm.sqlite", "contests/entries.xml", "training/events.jsonl",
                    "mailing/subscribers.csv"]]
        # Meanwhile: the oracle, the requests and the map.
        oracle_rows = [oracle(plan, p) for p in plan.people]
        with open(out / "oracle.jsonl", "w", encoding="utf-8", newline="\n") as f:
            f.write("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in oracle_rows))
        with open(out / "requests.csv", "w", encoding="utf-8", newline="") as f:
            f.write("request_id,email,kind\r\n")
            f.write("".join(f"P-{p.n:06d},{p.email},access\r\n" for p in plan.people))
        with open(out / "requests.jsonl", "w", encoding="utf-8", newline="\n") as f:
            f.write("".join(json.dumps({"request_id": f"P-{p.n:06d}", "email": p.email,
                                        "kind": "access"}) + "\n" for p in plan.people))
        (out / "people.yaml").write_text(
            DATA_MAP.format(version=GENERATOR_VERSION, people=f"{n_people:,}"), encoding="utf-8")
        print(f"people:   {verify_phones(plan)}", flush=True)
        for fut in futures:
            name, rows, secs = fut.result()
            rows_written.update(rows)
            size = (out / name).stat().st_size / 1e6
            print(f"people:   {name:<26} {size:8.1f} MB  {secs:6.1f} s", flush=True)
    found = {d: sum(r["counts"][d] for r in oracle_rows) for d in DATASETS}
    expected = {
        "generator_version": GENERATOR_VERSION,
        "people": n_people,
        **({"giant": giant} if giant else {}),
        "people_by_class": {c: sum(1 for p in plan.people if p.cls == c)
                            for c in ("ordinary", "heavy", "light", "nowhere",
                                      *(["giant"] if giant else []))},
        "records_in_files": {d: rows_written[d] for d in DATASETS},
        "records_found": found,
        "records_in_files_total": sum(rows_written.values()),
        "records_found_total": sum(found.values()),
        "file_bytes": {f: (out / f).stat().st_size for f in SOURCE_FILES},
        "special": special_people(plan, oracle_rows),
        "shared_invoice": None if not plan.shared else {
            "person": plan.shared[0], "other_person": plan.shared[1],
            "invoice": plan.invoice_number(plan.shared[2]),
            "note": "person has an extra enrolment on other_person's invoice and gets its lines"},
    }
    expected["special_totals"] = {k: oracle_rows[v - 1]["total"] if v else None
                                  for k, v in expected["special"].items()}
    (out / "expected.json").write_text(json.dumps(expected, indent=2) + "\n", encoding="utf-8")
    print(f"people:   records in files {expected['records_in_files_total']:,}, "
          f"found by the requests {expected['records_found_total']:,}", flush=True)
    print(f"people: done in {time.monotonic() - start:.1f} s", flush=True)


# ------------------------------------------------------------------------------- --check

def check_people(out: Path, k: int) -> list[int]:
    """K people spread over the distribution: the special ones first, then quantiles of totals."""
    expected = json.loads((out / "expected.json").read_text())
    rows = [json.loads(line) for line in open(out / "oracle.jsonl", encoding="utf-8")]
    chosen: list[int] = []
    for key in ("giant", "biggest", "heavy_1000", "single", "nowhere", "shared_invoice", "duplicate",
                "phone_only", "unreachable"):
        n = expected["special"].get(key)
        if n and n not in chosen:
            chosen.append(n)
    by_total = sorted(rows, key=lambda r: (r["total"], r["person"]))
    i = 0
    while len(chosen) < min(k, len(rows)):
        q = (i * 0.618_033_988_75) % 1.0          # golden-ratio steps cover the range evenly
        n = by_total[int(q * len(by_total))]["person"]
        if n not in chosen:
            chosen.append(n)
        i += 1
    return chosen[:k]


def run_check(out: Path, k: int) -> int:
    binary = Path(os.environ.get("DOSSIER") or REPO / ".build/debug/dossier")
    if not (binary.is_file() and os.access(binary, os.X_OK)):
        print(f"people: check: no dossier binary at {binary} (set DOSSIER, or build it and retry)",
              file=sys.stderr)
        return 2
    config = out / "people.yaml"
    t0 = time.monotonic()
    v = subprocess.run([str(binary), "validate", "--config", str(config)],
                       capture_output=True, text=True)
    print(f"people: check: validate exit {v.returncode} in {time.monotonic() - t0:.1f} s: "
          f"{(v.stdout.strip().splitlines() or [''])[-1]}", flush=True)
    if v.returncode != 0 or not v.stdout.startswith("ok:"):
        print(v.stdout + v.stderr, file=sys.stderr, end="")
        print("people: check: FAILED (the data map does not validate)", flush=True)
        return 1
    failed = False
    rows = {r["person"]: r for r in map(json.loads, open(out / "oracle.jsonl", encoding="utf-8"))}
    work = out / "check"
    work.mkdir(exist_ok=True)
    for n in check_people(out, k):
        want = rows[n]
        rid = f"P-{n:06d}"
        dest = work / rid
        shutil.rmtree(dest, ignore_errors=True)
        dest.mkdir()
        t0 = time.monotonic()
        r = subprocess.run([str(binary), "export", "--config", str(config),
                            "--email", want["email"], "--out", str(dest), "--request-id", rid,
                            "--as-of", AS_OF], capture_output=True, text=True)
        secs = time.monotonic() - t0
        lines = r.stdout.strip().splitlines()      # the last line names the archive
        if r.returncode != 0 or not lines or not Path(lines[-1]).is_file():
            print(f"people: check: {rid} exit {r.returncode}: {r.stderr.strip()}", flush=True)
            failed = True
            continue
        with zipfile.ZipFile(lines[-1]) as z:
            manifest = json.loads(z.read("manifest.json"))
        shutil.rmtree(dest)                         # archives can be large
        got = {f"{d['source']}/{d['dataset']}": d["count"] for d in manifest["datasets"]}
        diff = [f"{d} {got.get(d, 0)}/{want['counts'].get(d, 0)}"
                for d in sorted(set(got) | set(want["counts"]))
                if got.get(d, 0) != want["counts"].get(d, 0)]
        verdict = "ok" if not diff else "MISMATCH (got/want) " + ", ".join(diff)
        failed |= bool(diff)
        print(f"people: check: {rid} {want['total']:6,} records {secs:6.1f} s  {verdict}",
              flush=True)
    print(f"people: check: {'FAILED' if failed else 'every count matches the oracle'}", flush=True)
    return 1 if failed else 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("scratch", nargs="?", help="folder to write into (default "
                    ".build-bench/people-<N>/ in the repository)")
    ap.add_argument("--people", type=int, default=None,
                    help=f"number of people ({DEFAULT_PEOPLE:,}; {DEFAULT_GIANT_PEOPLE} with --giant)")
    ap.add_argument("--giant", type=int, metavar="K", default=0,
                    help="add one person (number N + 1, expected.json special.giant) with about K "
                    "records, for peak-memory runs")
    ap.add_argument("--force", action="store_true", help="rebuild even when the stamp matches")
    ap.add_argument("--check", type=int, metavar="K", default=0,
                    help="export K people with the dossier binary ($DOSSIER or "
                    ".build/debug/dossier) and compare the manifest counts with the oracle")
    args = ap.parse_args()
    if args.people is None:
        args.people = DEFAULT_GIANT_PEOPLE if args.giant else DEFAULT_PEOPLE
    if args.people < 1:
        ap.error("--people must be at least 1")
    if args.giant < 0 or 0 < args.giant < 10:
        ap.error("--giant takes a number of records of at least 10")
    if not args.giant:
        default = f"people-{args.people}"
    elif args.people == DEFAULT_GIANT_PEOPLE:
        default = f"giant-{args.giant}"
    else:
        default = f"giant-{args.giant}-people-{args.people}"
    out = Path(args.scratch or REPO / ".build-bench" / default).resolve()
    stamp_file = out / ".stamp"
    stamp_id = generator_id(args.people, args.giant)
    if (not args.force and stamp_file.is_file() and stamp_file.read_text() == stamp_id
            and all((out / f).is_file() for f in FILES)):
        print(f"people: reusing {out} (generator version {GENERATOR_VERSION}, stamp matches)")
    else:
        out.mkdir(parents=True, exist_ok=True)
        if stamp_file.exists():
            stamp_file.unlink()
        generate(out, args.people, args.giant)
        stamp_file.write_text(stamp_id)
    return run_check(out, args.check) if args.check else 0


if __name__ == "__main__":
    sys.exit(main())
