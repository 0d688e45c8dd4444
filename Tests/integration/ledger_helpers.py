"""Helpers for the ledger's end-to-end tests (test_ledger.py): an independent deadline calculator, a
private copy of the samples whose data map has a `ledger:` block, and a thin driver of
`dossier request …` and `dossier audit …` as a privacy officer would type them."""

from __future__ import annotations

import calendar
import datetime as dt
import hashlib
import json
import os
import re
import shutil
import subprocess
import time
import zipfile
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from pathlib import Path

from conftest import REPO, SAMPLES_MAP, id_args

EX_OK, EX_USAGE, EX_REFUSED, EX_TEMPFAIL = 0, 64, 65, 75
REQUEST_ID = re.compile(r"DSR-(\d{4})-(\d{4})")

# --------------------------------------------------------------------------- deadlines, independently


def easter_sunday(year: int) -> dt.date:
    """The anonymous Gregorian algorithm (Meeus/Jones/Butcher)."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    ell = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * ell) // 451
    month, day = divmod(h + ell - 7 * m + 114, 31)
    return dt.date(year, month, day + 1)


def polish_holidays(year: int) -> set[dt.date]:
    """Dni wolne od pracy (ustawa z 18 I 1951): fixed dates, the Easter-based ones, 24 Dec from 2025."""
    easter = easter_sunday(year)
    days = {
        dt.date(year, 1, 1), dt.date(year, 1, 6),
        easter, easter + dt.timedelta(days=1),            # Easter Sunday and Monday
        dt.date(year, 5, 1), dt.date(year, 5, 3),
        easter + dt.timedelta(days=49),                   # Pentecost Sunday
        easter + dt.timedelta(days=60),                   # Corpus Christi
        dt.date(year, 8, 15), dt.date(year, 11, 1), dt.date(year, 11, 11),
        dt.date(year, 12, 25), dt.date(year, 12, 26),
    }
    if year >= 2025:
        days.add(dt.date(year, 12, 24))
    return days


def add_months(d: dt.date, months: int) -> dt.date:
    """The same day-of-month `months` later, or that month's last day when it has no such day."""
    index = d.month - 1 + months
    year, month = d.year + index // 12, index % 12 + 1
    return dt.date(year, month, min(d.day, calendar.monthrange(year, month)[1]))


def is_working_day(d: dt.date, extra=()) -> bool:
    return d.weekday() < 5 and d not in polish_holidays(d.year) and d not in set(extra)


def expected_deadline(received, months: int = 1, extra=()) -> str:
    """Art. 12(3) with Reg. 1182/71 Art. 3(4): received + `months`, then the next working day."""
    if isinstance(received, str):
        received = dt.date.fromisoformat(received)
    extra = {dt.date.fromisoformat(x) if isinstance(x, str) else x for x in extra}
    d = add_months(received, months)
    while not is_working_day(d, extra):
        d += dt.timedelta(days=1)
    return d.isoformat()


def day(text: str, plus: int = 0) -> str:
    return (dt.date.fromisoformat(text) + dt.timedelta(days=plus)).isoformat()


# --------------------------------------------------------------------------- fees, independently


def expected_fees(further_copy: str, per_megabyte: str, previous_size: int) -> set[str]:
    """fees.further_copy + fees.per_megabyte × size/1,000,000, to 0.01. Both roundings are accepted
    when the exact amount lies on a half cent (the contract does not name the rounding)."""
    exact = Decimal(further_copy) + Decimal(per_megabyte) * Decimal(previous_size) / Decimal(1_000_000)
    cent = Decimal("0.01")
    return {str(exact.quantize(cent, rounding=ROUND_HALF_UP)), str(exact.quantize(cent, rounding=ROUND_HALF_EVEN))}


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 16), b""):
            h.update(block)
    return h.hexdigest()


# --------------------------------------------------------------------------- a private copy of the samples

SAMPLE_FILES = ("crm/crm.sqlite", "mailing/subscribers.csv", "training/events.jsonl", "contests/entries.xml")
EXTRA_HOLIDAYS = ("2026-07-15", "2026-07-16", "2026-12-31")


LEDGER_URL_VARIABLE = "DOSSIER_TEST_LEDGER_URL"
# A PostgreSQL ledger's claims are leases; the tests use short ones, so that a killed process's
# claim is taken over within seconds.
TEST_LEASE_SECONDS = 2


def ledger_block(extra=EXTRA_HOLIDAYS, repeat_window: str | None = "P3M", backend: str = "sqlite",
                 settings: tuple[str, ...] = ()) -> str:
    lines = [
        "",
        "ledger:",
        "  path: ledger/ledger.sqlite" if backend == "sqlite" else f"  url_env: {LEDGER_URL_VARIABLE}",
        "  archives: ledger/archives",
        *(f"  {setting}" for setting in settings),
    ]
    if backend == "postgres":
        lines.append(f"  lease_seconds: {TEST_LEASE_SECONDS}")
    if repeat_window:
        lines.append(f"  repeat_window: {repeat_window}")
    lines += [
        "  holidays:",
        "    country: PL",
        f"    extra: [{', '.join(extra)}]",
        "",
    ]
    return "\n".join(lines)


def make_samples_copy(folder: Path, extra=EXTRA_HOLIDAYS, repeat_window="P3M", per_megabyte: str | None = None,
                      further_copy: str | None = None, backend: str = "sqlite", settings: tuple[str, ...] = ()) -> Path:
    """Samples' sources and data map copied into `folder`, with a `ledger:` block (ledger in
    folder/ledger/ledger.sqlite, archives in folder/ledger/archives, and any further `settings` lines
    such as "require_review: true"). Returns the map's path."""
    samples = SAMPLES_MAP.parent
    folder.mkdir(parents=True, exist_ok=True)
    for rel in SAMPLE_FILES:
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(samples / rel, folder / rel)
    text = SAMPLES_MAP.read_text(encoding="utf-8")
    # the samples' own `ledger:` block (if any) gives way to this one
    text = re.sub(r"^ledger:[^\n]*\n(?:(?:[ \t]+[^\n]*)?\n)*", "", text, flags=re.M)
    assert re.search(r"^ledger:", text, re.M) is None
    if per_megabyte is not None:
        text, n = re.subn(r'^(  per_megabyte: ).*$', rf'\g<1>"{per_megabyte}"', text, count=1, flags=re.M)
        assert n == 1, "fees.per_megabyte not found in Samples/dossier.yaml"
    if further_copy is not None:
        text, n = re.subn(r'^(  further_copy: ).*$', rf'\g<1>"{further_copy}"', text, count=1, flags=re.M)
        assert n == 1, "fees.further_copy not found in Samples/dossier.yaml"
    if not text.endswith("\n"):
        text += "\n"
    text += ledger_block(extra, repeat_window, backend, settings)
    (folder / "dossier.yaml").write_text(text, encoding="utf-8")
    return folder / "dossier.yaml"


def samples_ledger(request, dossier: str, folder: Path, **kw) -> "Ledger":
    """A Ledger over a private copy of the samples (make_samples_copy(folder, **kw)) on the backend a
    fixture parametrised with ["sqlite", "postgres"] is running: the SQLite file beside the map, or a
    fresh database of the tests' PostgreSQL cluster."""
    backend = request.param
    pg = request.getfixturevalue("pg_ledger_database")() if backend == "postgres" else None
    return Ledger(dossier, make_samples_copy(folder, backend=backend, **kw), backend, pg)


# --------------------------------------------------------------------------- driving the binary


def last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def output(proc) -> str:
    return (proc.stdout or "") + (proc.stderr or "")


class Ledger:
    """One data map with its own ledger; every command runs in the map's folder with --config and
    --ledger (the same ledger the map names, so either way of finding it gives the same ledger).

    `backend` is "sqlite" (ledger/ledger.sqlite beside the map) or "postgres" (`pg` is a fresh
    database of the tests' private cluster: `url`, `database`, `cluster`; the map names it by
    ledger.url_env)."""

    def __init__(self, dossier: str, map_path: Path, backend: str = "sqlite", pg=None):
        self.dossier = dossier
        self.map = map_path
        self.root = map_path.parent
        self.backend = backend
        self.pg = pg
        self.path = self.root / "ledger" / "ledger.sqlite"
        self.archives = self.root / "ledger" / "archives"
        self.location = str(self.path) if backend == "sqlite" else pg.url

    # ---- raw runs
    def argv(self, *args, config=True, ledger=True) -> list[str]:
        argv = [self.dossier, *map(str, args)]
        if config:
            argv += ["--config", str(self.map)]
        if ledger:
            argv += ["--ledger", self.location]
        return argv

    def env(self) -> dict:
        env = dict(os.environ)
        env.pop("DOSSIER_LOG_LEVEL", None)
        if self.backend == "postgres":
            env[LEDGER_URL_VARIABLE] = self.pg.url
        return env

    def run(self, *args, config=True, ledger=True, timeout=300) -> subprocess.CompletedProcess:
        return subprocess.run(self.argv(*args, config=config, ledger=ledger), cwd=self.root, capture_output=True,
                              text=True, timeout=timeout, env=self.env())

    def popen(self, *args) -> subprocess.Popen:
        return subprocess.Popen(self.argv(*args), cwd=self.root, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, env=self.env())

    def request(self, *args, **kw) -> subprocess.CompletedProcess:
        return self.run("request", *args, **kw)

    def audit(self, *args) -> subprocess.CompletedProcess:
        return self.run("audit", *args, config=False, ledger=True)

    # ---- the officer's steps, each required to succeed
    def open(self, identifiers, received: str, today: str | None = None, kind: str = "access", extra=()):
        proc = self.request("open", "--kind", kind, *id_args(identifiers), "--received", received,
                            "--today", today or received, *extra)
        assert proc.returncode == 0, f"request open failed ({proc.returncode}): {proc.stderr}"
        rid = last_line(proc.stdout)
        assert REQUEST_ID.fullmatch(rid), f"the last line of `request open` is not a request id: {rid!r}"
        assert rid.split("-")[1] == received[:4], f"{rid}: the year is not the year of receipt {received}"
        return rid, proc

    def show(self, rid: str) -> dict:
        proc = self.request("show", rid, "--json")
        assert proc.returncode == 0, f"request show {rid} failed ({proc.returncode}): {proc.stderr}"
        obj = json.loads(proc.stdout)
        assert isinstance(obj, dict) and obj["id"] == rid, obj
        return obj

    def list(self, *args) -> list[dict]:
        proc = self.request("list", *args, "--json")
        assert proc.returncode == 0, f"request list failed ({proc.returncode}): {proc.stderr}"
        rows = json.loads(proc.stdout)
        assert isinstance(rows, list), rows
        return rows

    def verify(self, rid: str, today: str, method="reply from the registered e-mail address",
               by="Anna Kowalska (DPO)") -> subprocess.CompletedProcess:
        proc = self.request("verify", rid, "--method", method, "--by", by, "--today", today)
        assert proc.returncode == 0, f"request verify {rid} failed ({proc.returncode}): {proc.stderr}"
        return proc

    def archive_of(self, proc) -> Path:
        """The path on the last stdout line of a fulfil / accepted copy, resolved against the cwd."""
        text = last_line(proc.stdout)
        assert text, f"no archive path printed: {proc.stdout!r}"
        path = Path(text)
        if not path.is_absolute():
            path = self.root / path
        assert path.is_file(), f"the printed archive path does not exist: {text}"
        return path

    def fulfil(self, rid: str, today: str, *extra) -> Path:
        proc = self.request("fulfil", rid, "--today", today, *extra)
        assert proc.returncode == 0, f"request fulfil {rid} failed ({proc.returncode}): {proc.stderr}"
        return self.archive_of(proc)

    def fulfil_retrying(self, rid: str, today: str, limit: float = 30.0) -> subprocess.CompletedProcess:
        """Fulfil, again while the answer is 75 (a claim held, e.g. by a killed process)."""
        deadline = time.monotonic() + limit
        while True:
            proc = self.request("fulfil", rid, "--today", today)
            if proc.returncode != EX_TEMPFAIL:
                return proc
            assert time.monotonic() < deadline, (
                f"fulfil {rid} still answers 75 after {limit:.0f} s: the claim of a killed process is never "
                f"taken over ({proc.stderr.strip()})")
            time.sleep(0.2)

    def archive_names(self) -> list[str]:
        """Every entry in the archives folder, hidden ones included."""
        if not self.archives.exists():
            return []
        return sorted(p.name for p in self.archives.iterdir())

    def delivery_path(self, delivery: dict) -> Path:
        """A delivery's `path`: absolute, or relative to the map's folder (the cwd) or the ledger's."""
        p = Path(delivery["path"])
        if p.is_absolute():
            return p
        for base in (self.root, self.path.parent, self.archives):
            if (base / p).exists():
                return base / p
        return self.root / p

    def check_each_delivered_once(self, ids: list[str]) -> None:
        """Every request has exactly copy 1, its archive is whole and matches its row, the archives
        folder holds nothing else (no orphan, no partial file, no staging folder), the chain is intact."""
        names = set()
        for rid in ids:
            shown = self.show(rid)
            assert [d["copy"] for d in shown["deliveries"]] == [1], (rid, shown["deliveries"])
            path = self.delivery_path(shown["deliveries"][0])
            with zipfile.ZipFile(path) as z:
                assert z.testzip() is None
            names.add(path.name)
        assert sorted(self.archive_names()) == sorted(names)
        assert self.audit("verify").returncode == 0

    def sqlite(self, sql: str) -> subprocess.CompletedProcess:
        """The sqlite3 shell, as an officer (or an intruder) would use it."""
        assert self.backend == "sqlite", "a SQLite ledger's shell on a PostgreSQL ledger"
        proc = subprocess.run(["sqlite3", str(self.path), sql], capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, f"sqlite3 failed: {proc.stderr}"
        return proc

    def sql(self, sql: str) -> str:
        """SQL on the ledger's database as its administrator (sqlite3, or psql as the superuser):
        what the statement prints, one row a line, columns separated by |."""
        if self.backend == "sqlite":
            return self.sqlite(sql).stdout
        return self.pg.cluster.psql(sql, db=self.pg.database)


__all__ = [
    "EX_OK", "EX_USAGE", "EX_REFUSED", "EX_TEMPFAIL", "REQUEST_ID", "EXTRA_HOLIDAYS", "REPO",
    "easter_sunday", "polish_holidays", "add_months", "is_working_day", "expected_deadline", "day",
    "expected_fees", "sha256_file", "make_samples_copy", "ledger_block", "last_line", "output", "Ledger",
    "LEDGER_URL_VARIABLE", "TEST_LEASE_SECONDS",
]
