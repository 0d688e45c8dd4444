"""End-to-end tests of the request ledger (issue 3), scripted as a privacy officer would use it:
`dossier request open|verify|extend|fulfil|copy|refuse|withdraw|show|list` and `dossier audit verify|export`
against the CLI contract (/tmp/contract-ledger.md, kept in the issue).

Every test has its own copy of the samples whose data map carries a `ledger:` block (ledger and
archives under <tmp>/ledger/), and gives `--today` wherever the outcome depends on the date. Expected
deadlines come from an independent calculator (ledger_helpers.expected_deadline: calendar arithmetic and
the anonymous Gregorian Easter algorithm) and, for the cases the issue names, from hard-coded dates.

Run from the repository root:  python -m pytest Tests/integration/test_ledger.py
"""

from __future__ import annotations

import datetime as dt
import json
import random
import re
import signal
import stat
import subprocess
import time
import warnings
from pathlib import Path

import pytest
import yaml

from conftest import assert_one_line_error, data_files, export, read_archive
from ledger_helpers import (
    samples_ledger,
    EX_REFUSED, EX_TEMPFAIL, EX_USAGE, EXTRA_HOLIDAYS, REQUEST_ID, Ledger, add_months, day, easter_sunday,
    expected_deadline, expected_fees, last_line, make_samples_copy, output, polish_holidays, sha256_file,
)

ZOFIA = "zofia.wisniewska@example.pl"          # Samples: CRM contact 17, data in every source
ZOFIA_PHONE = "0048 22 122-86-17"              # her number (E.164 +48221228617)
ZOFIA_E164 = "+48221228617"
KOWALSKI = "p.kowalski@example.net"            # CRM contact 21, another person
METHOD = "reply from the registered e-mail address"
BY = "Anna Kowalska (DPO)"


# =========================================================================== fixtures

@pytest.fixture(scope="session")
def ledger_dossier(dossier) -> str:
    """The binary, provided it has the ledger's commands (else every test here fails with this message)."""
    proc = subprocess.run([dossier, "request", "open", "--help"], capture_output=True, text=True, timeout=60)
    if proc.returncode != 0 or "--received" not in proc.stdout + proc.stderr:
        pytest.fail(f"{dossier} has no `request open` command (issue 3 not built yet): "
                    f"{(proc.stderr or proc.stdout).strip()[:200]}", pytrace=False)
    return dossier


@pytest.fixture(params=["sqlite", "postgres"])
def ledger(request, ledger_dossier, samples_map, tmp_path) -> Ledger:
    """A private copy of the samples with `ledger:` {path: ledger/ledger.sqlite (or url_env naming a fresh
    database of the tests' PostgreSQL cluster), archives: ledger/archives, repeat_window: P3M,
    holidays: {country: PL, extra: EXTRA_HOLIDAYS}}. Every test that takes it runs on both backends."""
    return samples_ledger(request, ledger_dossier, tmp_path / "samples")


@pytest.fixture
def sqlite_ledger(ledger_dossier, samples_map, tmp_path) -> Ledger:
    """A SQLite ledger, for what only a ledger file has (its mode, its place beside the map)."""
    return Ledger(ledger_dossier, make_samples_copy(tmp_path / "samples"))


def new_ledger(ledger_dossier, folder: Path, **kw) -> Ledger:
    return Ledger(ledger_dossier, make_samples_copy(folder, **kw))


def statuses(show: dict) -> list[str]:
    return [h["to"] for h in show["history"]]


def refused(proc, *must_contain):
    """Exit 65 with one sentence on stderr."""
    return assert_one_line_error(proc, EX_REFUSED, *must_contain)


# =========================================================================== the calculator itself

def test_calculator_self_check():
    """The independent calculator against dates checked by hand in a calendar."""
    assert [easter_sunday(y).isoformat() for y in (2000, 2019, 2024, 2025, 2026, 2027, 2038)] == [
        "2000-04-23", "2019-04-21", "2024-03-31", "2025-04-20", "2026-04-05", "2027-03-28", "2038-04-25"]
    h26 = polish_holidays(2026)
    assert dt.date(2026, 6, 4) in h26            # Corpus Christi = Easter + 60
    assert dt.date(2026, 5, 24) in h26           # Pentecost = Easter + 49
    assert dt.date(2026, 4, 6) in h26            # Easter Monday
    assert dt.date(2026, 12, 24) in h26 and dt.date(2024, 12, 24) not in polish_holidays(2024)
    assert len(h26) == 14
    assert add_months(dt.date(2026, 1, 31), 1) == dt.date(2026, 2, 28)
    assert add_months(dt.date(2024, 1, 31), 1) == dt.date(2024, 2, 29)
    assert add_months(dt.date(2026, 12, 15), 1) == dt.date(2027, 1, 15)
    assert add_months(dt.date(2026, 1, 15), -1) == dt.date(2025, 12, 15)
    for received, want, _ in HARD_DEADLINES:
        assert expected_deadline(received) == want, received
    assert expected_deadline("2026-06-15", extra=EXTRA_HOLIDAYS) == "2026-07-17"
    assert expected_deadline("2026-10-31", months=2, extra=EXTRA_HOLIDAYS) == "2027-01-04"


# =========================================================================== deadlines

HARD_DEADLINES = [
    # received, deadline, why
    ("2026-01-31", "2026-03-02", "28 Feb 2026 is a Saturday, 1 Mar a Sunday"),
    ("2024-01-31", "2024-02-29", "leap year: 29 Feb 2024, a Thursday"),
    ("2025-01-31", "2025-02-28", "no 31 Feb: the month's last day, a Friday"),
    ("2027-01-31", "2027-03-01", "28 Feb 2027 is a Sunday"),
    ("2025-06-15", "2025-07-15", "an ordinary Tuesday"),
    ("2026-10-11", "2026-11-12", "11 Nov 2026 (Wednesday) is Independence Day"),
    ("2026-11-24", "2026-12-28", "24 Dec (a holiday from 2025), 25, 26 Dec, then Sunday 27"),
    ("2024-11-24", "2024-12-24", "24 Dec 2024 was still a working day"),
    ("2026-05-04", "2026-06-05", "4 Jun 2026 is Corpus Christi (Easter 5 Apr + 60)"),
    ("2026-03-06", "2026-04-07", "6 Apr 2026 is Easter Monday"),
    ("2025-03-21", "2025-04-22", "21 Apr 2025 is Easter Monday"),
    ("2026-04-01", "2026-05-04", "1 May (Friday), Saturday 2, 3 May (Sunday, a holiday)"),
    ("2025-12-06", "2026-01-07", "6 Jan 2026 is Epiphany"),
    ("2025-07-15", "2025-08-18", "15 Aug 2025 (Friday) is Assumption Day"),
]


@pytest.mark.parametrize("received,want,why", HARD_DEADLINES, ids=[r for r, _, _ in HARD_DEADLINES])
def test_deadline(ledger, received, want, why):
    rid, _ = ledger.open([("email", ZOFIA)], received)
    show = ledger.show(rid)
    assert show["received"] == received
    assert show["deadline"] == want, f"received {received}: {why}"
    assert show["first_deadline"] == want
    assert show["extended_months"] == 0


def test_deadline_extra_holiday_from_the_map(ledger_dossier, samples_map, tmp_path):
    """15 and 16 Jul 2026 are `ledger.holidays.extra` in one map and not in the other."""
    with_extra = new_ledger(ledger_dossier, tmp_path / "with", extra=("2026-07-15", "2026-07-16"))
    without = new_ledger(ledger_dossier, tmp_path / "without", extra=("2026-12-31",))
    rid, _ = with_extra.open([("email", ZOFIA)], "2026-06-15")
    assert with_extra.show(rid)["deadline"] == "2026-07-17"
    rid, _ = without.open([("email", ZOFIA)], "2026-06-15")
    assert without.show(rid)["deadline"] == "2026-07-15"


def sweep_receipts() -> list[str]:
    """Every receipt whose plain one-month date is a Polish holiday (2025-2027), the ends of
    January (2024-2027) and 31sts before 30-day months."""
    out = set()
    for year in (2025, 2026, 2027):
        for h in polish_holidays(year):
            r = add_months(h, -1)
            if add_months(r, 1) == h:
                out.add(r)
    for year in (2024, 2025, 2026, 2027):
        for d in (28, 29, 30, 31):
            try:
                out.add(dt.date(year, 1, d))
            except ValueError:
                pass
    out |= {dt.date(2026, 3, 31), dt.date(2026, 5, 31), dt.date(2026, 8, 31), dt.date(2026, 10, 31)}
    return sorted(d.isoformat() for d in out)


def test_deadline_sweep_against_the_calculator(ledger):
    wrong = []
    for received in sweep_receipts():
        rid, _ = ledger.open([("email", ZOFIA)], received)
        got = ledger.show(rid)["deadline"]
        want = expected_deadline(received, extra=EXTRA_HOLIDAYS)
        if got != want:
            wrong.append(f"received {received}: deadline {got}, expected {want}")
    assert not wrong, "\n".join(wrong)


# =========================================================================== open and show

def test_open_prints_id_last_and_show_json(ledger):
    rid, proc = ledger.open([("email", " Zofia.Wisniewska@Example.PL "), ("phone", ZOFIA_PHONE)], "2026-01-31")
    assert rid == "DSR-2026-0001"
    assert last_line(proc.stdout) == rid
    show = ledger.show(rid)
    assert show["id"] == rid
    assert show["kind"] == "access"
    assert show["status"] == "received"
    assert show["received"] == "2026-01-31"
    assert show["deadline"] == "2026-03-02"
    assert show["first_deadline"] == "2026-03-02"
    assert show["extended_months"] == 0
    assert show["channel"] == "email"
    assert show["flags"] == []
    assert show["evidence"] == []
    assert show["deliveries"] == []
    assert show["verification"] is None
    assert show["refusal_reason"] is None
    assert statuses(show) == ["received"]
    # the identifiers are kept normalised
    got = {(i["kind"], i["value"]) for i in show["identifiers"]}
    assert got == {("email", ZOFIA), ("phone", ZOFIA_E164)}
    # the readable form works too
    proc = ledger.request("show", rid)
    assert proc.returncode == 0, proc.stderr
    assert rid in proc.stdout


def test_open_ids_count_up_and_kind(ledger):
    first, _ = ledger.open([("email", ZOFIA)], "2026-02-02")
    second, _ = ledger.open([("email", KOWALSKI)], "2026-02-02", kind="portability",
                            extra=("--channel", "letter", "--language", "en"))
    assert (first, second) == ("DSR-2026-0001", "DSR-2026-0002")
    show = ledger.show(second)
    assert show["kind"] == "portability"
    assert show["channel"] == "letter"
    assert show["language"] == "en"
    other_year, _ = ledger.open([("email", ZOFIA)], "2025-12-30", today="2026-02-02")
    assert REQUEST_ID.fullmatch(other_year).group(1) == "2025"


def test_ledger_from_the_map_is_created_0600(sqlite_ledger):
    """Without --ledger the map's `ledger.path` (relative to the map) is used; parent folders created."""
    ledger = sqlite_ledger
    assert not ledger.path.parent.exists()
    proc = ledger.run("request", "open", "--kind", "access", "--email", ZOFIA, "--received", "2026-02-02",
                      "--today", "2026-02-02", ledger=False)
    assert proc.returncode == 0, proc.stderr
    rid = last_line(proc.stdout)
    assert ledger.path.is_file()
    assert stat.S_IMODE(ledger.path.stat().st_mode) == 0o600
    proc = ledger.run("request", "show", rid, "--json", ledger=False)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["id"] == rid
    proc = ledger.run("audit", "verify", ledger=False)
    assert proc.returncode == 0, output(proc)


def test_ledger_option_overrides_the_map(sqlite_ledger):
    ledger = sqlite_ledger
    other = ledger.root / "elsewhere" / "deep" / "requests.sqlite"
    proc = ledger.run("request", "open", "--kind", "access", "--email", ZOFIA, "--received", "2026-02-02",
                      "--today", "2026-02-02", "--ledger", other, ledger=False)
    assert proc.returncode == 0, proc.stderr
    assert other.is_file()
    assert stat.S_IMODE(other.stat().st_mode) == 0o600
    assert not ledger.path.exists(), "the map's ledger was created although --ledger named another"


# =========================================================================== extension

def test_extend_after_the_first_month_refused(ledger):
    rid, _ = ledger.open([("email", ZOFIA)], "2026-01-31")
    proc = ledger.request("extend", rid, "--months", "1", "--reason", "Complex request", "--today", "2026-03-03")
    refused(proc)
    show = ledger.show(rid)
    assert show["status"] == "received"
    assert show["deadline"] == "2026-03-02"
    assert show["extended_months"] == 0
    assert statuses(show) == ["received"]


def test_extend_by_two_within_the_month_then_no_more(ledger):
    rid, _ = ledger.open([("email", ZOFIA)], "2026-01-31")
    reason = "Data held in four systems, one of them archived off-site"
    proc = ledger.request("extend", rid, "--months", "2", "--reason", reason, "--today", "2026-02-10")
    assert proc.returncode == 0, proc.stderr
    show = ledger.show(rid)
    assert show["status"] == "extended"
    assert show["deadline"] == expected_deadline("2026-01-31", months=3) == "2026-04-30"
    assert show["first_deadline"] == "2026-03-02"
    assert show["extended_months"] == 2
    assert reason in json.dumps(show, ensure_ascii=False), "the extension's reason is not recorded"
    proc = ledger.request("extend", rid, "--months", "1", "--reason", "More time", "--today", "2026-02-11")
    refused(proc)
    show = ledger.show(rid)
    assert (show["deadline"], show["extended_months"], show["status"]) == ("2026-04-30", 2, "extended")


def test_extend_one_then_one_more(ledger):
    rid, _ = ledger.open([("email", ZOFIA)], "2026-01-31")
    proc = ledger.request("extend", rid, "--months", "1", "--reason", "First", "--today", "2026-02-10")
    assert proc.returncode == 0, proc.stderr
    assert ledger.show(rid)["deadline"] == expected_deadline("2026-01-31", months=2) == "2026-03-31"
    proc = ledger.request("extend", rid, "--months", "1", "--reason", "Second", "--today", "2026-02-20")
    assert proc.returncode == 0, proc.stderr
    show = ledger.show(rid)
    assert (show["deadline"], show["extended_months"]) == ("2026-04-30", 2)
    refused(ledger.request("extend", rid, "--months", "1", "--reason", "Third", "--today", "2026-02-21"))


def test_extend_on_the_last_day_then_too_late(ledger):
    """`today <= the first deadline` is allowed; the day after is not, even with months to spare."""
    rid, _ = ledger.open([("email", ZOFIA)], "2026-01-31")
    proc = ledger.request("extend", rid, "--months", "1", "--reason", "Complex", "--today", "2026-03-02")
    assert proc.returncode == 0, proc.stderr
    assert ledger.show(rid)["deadline"] == "2026-03-31"
    refused(ledger.request("extend", rid, "--months", "1", "--reason", "More", "--today", "2026-03-03"))
    show = ledger.show(rid)
    assert (show["deadline"], show["extended_months"]) == ("2026-03-31", 1)


def test_extended_deadline_rolls_over_holidays(ledger):
    """31 Oct + 2 months = 31 Dec 2026 (an extra date of the map), 1 Jan, Saturday, Sunday: 4 Jan 2027."""
    rid, _ = ledger.open([("email", ZOFIA)], "2026-10-31")
    assert ledger.show(rid)["deadline"] == "2026-11-30"
    proc = ledger.request("extend", rid, "--months", "1", "--reason", "Complex", "--today", "2026-11-02")
    assert proc.returncode == 0, proc.stderr
    assert ledger.show(rid)["deadline"] == "2027-01-04"


def test_extend_needs_a_reason(ledger):
    rid, _ = ledger.open([("email", ZOFIA)], "2026-01-31")
    proc = ledger.request("extend", rid, "--months", "1", "--today", "2026-02-02")
    assert proc.returncode == EX_USAGE, output(proc)
    show = ledger.show(rid)
    assert (show["status"], show["deadline"]) == ("received", "2026-03-02")


# =========================================================================== verification and fulfilment

def test_fulfil_unverified_refused(ledger):
    rid, _ = ledger.open([("email", ZOFIA)], "2026-02-02")
    refused(ledger.request("fulfil", rid, "--today", "2026-02-03"))
    assert ledger.archive_names() == []
    show = ledger.show(rid)
    assert show["status"] == "received"
    assert show["deliveries"] == []


def test_verify_then_fulfil_gives_copy_1_free(ledger, tmp_path):
    rid, _ = ledger.open([("email", ZOFIA)], "2026-02-02")
    ledger.verify(rid, "2026-02-03", method=METHOD, by=BY)
    show = ledger.show(rid)
    assert show["status"] == "verified"
    assert show["verification"]["method"] == METHOD
    assert show["verification"]["by"] == BY
    assert show["verification"]["at"][:10] == "2026-02-03"      # times carry the --today date

    archive = ledger.fulfil(rid, "2026-02-04")
    assert archive.resolve().parent == ledger.archives.resolve()
    assert archive.name == f"dossier-{rid}-copy1.zip"
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600
    proc = subprocess.run(["unzip", "-t", str(archive)], capture_output=True, text=True)
    assert proc.returncode == 0 and "No errors detected" in proc.stdout, proc.stdout + proc.stderr
    assert ledger.archive_names() == [archive.name]

    show = ledger.show(rid)
    assert show["status"] == "fulfilled"
    assert statuses(show) == ["received", "verified", "fulfilled"]
    assert len(show["deliveries"]) == 1
    d = show["deliveries"][0]
    assert d["copy"] == 1
    assert d["fee"] == "0.00"
    assert d["currency"] == "PLN"
    assert d["sha256"] == sha256_file(archive)
    assert d["size"] == archive.stat().st_size
    assert d["format"] == "zip"
    assert ledger.delivery_path(d).resolve() == archive.resolve()
    assert d["at"][:10] == "2026-02-04"
    assert isinstance(d["fingerprint"], str) and d["fingerprint"]

    # the bundle is the export pipeline's, marked as a delivery of this request
    entries = read_archive(archive)
    manifest = json.loads(entries["manifest.json"])
    assert manifest["request_id"] == rid
    assert manifest["delivery"] is True
    (tmp_path / "adhoc").mkdir()
    adhoc = read_archive(export(ledger.dossier, ledger.map, [("email", ZOFIA)], tmp_path / "adhoc", request_id=rid))
    assert data_files(entries) == data_files(adhoc), "the delivered data differ from an ad-hoc export's"


def test_fulfil_tar_gz(ledger):
    rid, _ = ledger.open([("email", ZOFIA)], "2026-02-02")
    ledger.verify(rid, "2026-02-02")
    archive = ledger.fulfil(rid, "2026-02-03", "--format", "tar.gz")
    assert archive.name == f"dossier-{rid}-copy1.tar.gz"
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600
    proc = subprocess.run(["bsdtar", "-tzf", str(archive)], capture_output=True, text=True)
    assert proc.returncode == 0 and "manifest.json" in proc.stdout.split(), proc.stderr
    d = ledger.show(rid)["deliveries"][0]
    assert (d["copy"], d["format"], d["sha256"]) == (1, "tar.gz", sha256_file(archive))


def test_fulfilled_request_accepts_only_copies(ledger):
    rid, _ = ledger.open([("email", ZOFIA)], "2026-02-02")
    refused(ledger.request("copy", rid, "--accept-fee", "--today", "2026-02-02"))   # copy before fulfil
    ledger.verify(rid, "2026-02-02")
    refused(ledger.request("copy", rid, "--accept-fee", "--today", "2026-02-02"))
    archive = ledger.fulfil(rid, "2026-02-03")
    refused(ledger.request("fulfil", rid, "--today", "2026-02-04"))
    refused(ledger.request("verify", rid, "--method", METHOD, "--by", BY, "--today", "2026-02-04"))
    refused(ledger.request("extend", rid, "--months", "1", "--reason", "r", "--today", "2026-02-04"))
    refused(ledger.request("refuse", rid, "--reason", "r", "--today", "2026-02-04"))
    refused(ledger.request("withdraw", rid, "--today", "2026-02-04"))
    show = ledger.show(rid)
    assert show["status"] == "fulfilled"
    assert [d["copy"] for d in show["deliveries"]] == [1]
    assert ledger.archive_names() == [archive.name]


def test_extended_request_still_needs_verification(ledger):
    rid, _ = ledger.open([("email", ZOFIA)], "2026-02-02")
    proc = ledger.request("extend", rid, "--months", "1", "--reason", "Complex", "--today", "2026-02-03")
    assert proc.returncode == 0, proc.stderr
    refused(ledger.request("fulfil", rid, "--today", "2026-02-04"))
    assert ledger.archive_names() == []
    ledger.verify(rid, "2026-02-05")
    show = ledger.show(rid)
    assert show["status"] == "verified"
    assert show["deadline"] == expected_deadline("2026-02-02", months=2) == "2026-04-02"
    ledger.fulfil(rid, "2026-02-06")
    show = ledger.show(rid)
    assert show["status"] == "fulfilled"
    assert statuses(show) == ["received", "extended", "verified", "fulfilled"]


# =========================================================================== further copies and fees

def quoted_fee(stdout: str) -> str:
    m = re.search(r"(\d+\.\d{2})\s*PLN", stdout)
    assert m, f"no fee in PLN quoted: {stdout!r}"
    return m.group(1)


def fees_of(ledger: Ledger) -> tuple[str, str]:
    fees = yaml.safe_load(ledger.map.read_text(encoding="utf-8"))["fees"]
    return str(fees["further_copy"]), str(fees["per_megabyte"])


def fulfilled(ledger: Ledger, identifiers=(("email", ZOFIA),), received="2026-02-02") -> tuple[str, Path]:
    rid, _ = ledger.open(list(identifiers), received)
    ledger.verify(rid, received)
    return rid, ledger.fulfil(rid, day(received, 1))


def test_further_copy_quoted_then_made_on_acceptance(ledger):
    rid, copy1 = fulfilled(ledger)
    first = ledger.show(rid)["deliveries"][0]
    further, per_mb = fees_of(ledger)
    assert (further, per_mb) == ("25.00", "0.10")
    want = expected_fees(further, per_mb, copy1.stat().st_size)

    proc = ledger.request("copy", rid, "--today", "2026-02-10")
    assert proc.returncode == 0, proc.stderr
    fee = quoted_fee(proc.stdout)
    assert fee in want, f"quoted {fee}, expected {sorted(want)} for a previous copy of {copy1.stat().st_size} bytes"
    last = last_line(proc.stdout)
    assert not (last and (ledger.root / last).is_file()), "a path was printed without --accept-fee"
    assert ledger.archive_names() == [copy1.name]
    assert ledger.show(rid)["deliveries"] == [first]

    proc = ledger.request("copy", rid, "--accept-fee", "--today", "2026-02-10")
    assert proc.returncode == 0, proc.stderr
    copy2 = ledger.archive_of(proc)
    assert copy2.resolve().parent == ledger.archives.resolve()
    assert copy2.name == f"dossier-{rid}-copy2.zip"
    assert stat.S_IMODE(copy2.stat().st_mode) == 0o600
    assert ledger.archive_names() == sorted([copy1.name, copy2.name])
    show = ledger.show(rid)
    assert show["status"] == "fulfilled"
    assert len(show["deliveries"]) == 2
    assert show["deliveries"][0] == first
    d = show["deliveries"][1]
    assert d["copy"] == 2
    assert d["fee"] == fee, "the fee stored is not the fee quoted"
    assert d["currency"] == "PLN"
    assert d["sha256"] == sha256_file(copy2)
    assert d["size"] == copy2.stat().st_size
    assert ledger.delivery_path(d).resolve() == copy2.resolve()
    assert d["at"][:10] == "2026-02-10"
    assert d["fingerprint"] == first["fingerprint"], "unchanged data, yet another fingerprint"


def test_further_copy_fee_counts_megabytes(ledger_dossier, samples_map, tmp_path):
    """A tariff whose size part shows: 150.00 PLN a megabyte of the previous copy."""
    ledger = new_ledger(ledger_dossier, tmp_path / "s", per_megabyte="150.00")
    rid, copy1 = fulfilled(ledger)
    want = expected_fees("25.00", "150.00", copy1.stat().st_size)
    assert all(f != "25.00" for f in want)
    proc = ledger.request("copy", rid, "--today", "2026-02-10")
    assert proc.returncode == 0, proc.stderr
    fee2 = quoted_fee(proc.stdout)
    assert fee2 in want, f"quoted {fee2}, expected {sorted(want)} for {copy1.stat().st_size} bytes"
    proc = ledger.request("copy", rid, "--accept-fee", "--today", "2026-02-10")
    assert proc.returncode == 0, proc.stderr
    copy2 = ledger.archive_of(proc)
    # copy 3 is priced on copy 2's size
    want3 = expected_fees("25.00", "150.00", copy2.stat().st_size)
    proc = ledger.request("copy", rid, "--accept-fee", "--today", "2026-02-11")
    assert proc.returncode == 0, proc.stderr
    copy3 = ledger.archive_of(proc)
    assert copy3.name == f"dossier-{rid}-copy3.zip"
    got = [(d["copy"], d["fee"]) for d in ledger.show(rid)["deliveries"]]
    assert got[:2] == [(1, "0.00"), (2, fee2)]
    assert got[2][0] == 3 and got[2][1] in want3, f"copy 3 fee {got[2][1]}, expected {sorted(want3)}"


# =========================================================================== a copy is counted once

def test_concurrent_fulfil_makes_one_copy(ledger):
    names = []
    for n in range(3):
        rid, _ = ledger.open([("crm_id", str(17 + n))], "2026-02-02")
        ledger.verify(rid, "2026-02-02")
        procs = [ledger.popen("request", "fulfil", rid, "--today", "2026-02-03") for _ in range(2)]
        results = [(p.communicate(timeout=300), p.returncode) for p in procs]
        codes = sorted(code for _, code in results)
        assert codes[0] == 0 and codes[1] in (EX_REFUSED, EX_TEMPFAIL), \
            f"round {n}: exit codes {codes}; stderr: {[out[1] for out, _ in results]}"
        show = ledger.show(rid)
        assert [d["copy"] for d in show["deliveries"]] == [1]
        name = f"dossier-{rid}-copy1.zip"
        names.append(name)
        assert ledger.archive_names() == sorted(names), f"round {n}: archives {ledger.archive_names()}"
        winner = next(out for out, code in results if code == 0)
        assert Path(last_line(winner[0])).name == name
        assert show["deliveries"][0]["sha256"] == sha256_file(ledger.archives / name)


def test_kill_during_fulfil_then_rerun(ledger):
    """SIGKILL a fulfil at moments spread over an unkilled fulfil's run time (measured first: about
    0.15 s for one sample person here), then fulfil again: one delivery and its archive, never one
    without the other, nothing else left in the archives folder."""
    names: list[str] = []

    def verified(n: int) -> str:
        rid, _ = ledger.open([("crm_id", str(17 + n))], "2026-02-02")
        ledger.verify(rid, "2026-02-02")
        return rid

    # how long a fulfil runs, start to exit, on this machine
    runs = []
    for n in (0, 1):
        rid = verified(n)
        start = time.monotonic()
        proc = ledger.popen("request", "fulfil", rid, "--today", "2026-02-03")
        proc.communicate(timeout=300)
        runs.append(time.monotonic() - start)
        assert proc.returncode == 0, proc.stderr
        names.append(f"dossier-{rid}-copy1.zip")
    took = max(runs)

    rng = random.Random(20260131)
    delays = [0.0] + [took * k / 12 * rng.uniform(0.95, 1.05) for k in range(1, 15)]
    uneven_after_kill = []
    outcomes = []                  # (delay, killed while running, delivery row right after the kill)
    for n, delay in enumerate(delays, start=2):
        rid = verified(n)
        name = f"dossier-{rid}-copy1.zip"
        proc = ledger.popen("request", "fulfil", rid, "--today", "2026-02-03")
        time.sleep(delay)
        done_first = proc.poll() is not None
        if not done_first:
            proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
        where = f"kill after {delay:.3f} s of a {took:.3f} s fulfil ({rid})"

        # right after the kill: never two copies; note (not fail) a row without its archive or v.v.
        show = ledger.show(rid)
        copies = [d["copy"] for d in show["deliveries"]]
        assert copies in ([], [1]), f"{where}: deliveries {copies}"
        if bool(copies) != (ledger.archives / name).exists():
            uneven_after_kill.append(f"{where}: " + ("a row without its archive" if copies else "an archive without its row"))
        outcomes.append((round(delay, 3), not done_first, bool(copies)))

        rerun = ledger.fulfil_retrying(rid, "2026-02-03")
        if copies:
            assert rerun.returncode in (0, EX_REFUSED), f"{where}: rerun exit {rerun.returncode}: {rerun.stderr}"
        else:
            assert rerun.returncode == 0, f"{where}: rerun exit {rerun.returncode}: {rerun.stderr}"
            assert Path(last_line(rerun.stdout)).name == name

        show = ledger.show(rid)
        assert show["status"] == "fulfilled", where
        assert [d["copy"] for d in show["deliveries"]] == [1], f"{where}: deliveries {show['deliveries']}"
        archive = ledger.archives / name
        assert archive.is_file(), f"{where}: a delivery row without its archive"
        assert show["deliveries"][0]["sha256"] == sha256_file(archive), f"{where}: the archive is not the one recorded"
        assert ledger.delivery_path(show["deliveries"][0]).resolve() == archive.resolve()
        names.append(name)
        assert ledger.archive_names() == sorted(names), f"{where}: stray files {ledger.archive_names()}"
        proc = subprocess.run(["unzip", "-t", str(archive)], capture_output=True, text=True)
        assert proc.returncode == 0, f"{where}: {proc.stdout}"
    # the kills must have hit a running fulfil, before its delivery row, at least once
    assert any(killed and not row for _, killed, row in outcomes), f"no kill landed during a fulfil: {outcomes}"
    if uneven_after_kill:
        warnings.warn("right after a kill (before the rerun), a delivery row and its archive disagreed: "
                      + "; ".join(uneven_after_kill))


# =========================================================================== repeated requests

def test_repeat_request_within_a_week_flagged(ledger):
    first, _ = fulfilled(ledger, received="2026-02-02")      # copy 1 delivered 2026-02-03
    second, proc = ledger.open([("email", ZOFIA)], "2026-02-10")
    show = ledger.show(second)
    assert show["flags"] == ["possibly_excessive"]
    assert first in proc.stdout, "the evidence on stdout does not name the earlier request"
    assert show["evidence"], "no evidence recorded"
    assert first in json.dumps(show["evidence"])
    assert ledger.show(first)["flags"] == []
    assert show["status"] == "received"


def test_repeat_request_by_normalised_identifier_flagged(ledger):
    first, _ = fulfilled(ledger, received="2026-02-02")
    second, proc = ledger.open([("email", "  Zofia.WISNIEWSKA@Example.PL ")], "2026-02-10")
    assert ledger.show(second)["flags"] == ["possibly_excessive"]
    assert first in proc.stdout


def test_repeat_request_by_an_identifier_the_resolution_found_flagged(ledger):
    """A copy asked for by e-mail; then a request by phone only: the earlier resolution found that phone
    (Zofia's contact card), so it is the same subject (Art. 12(5)); and the other way round."""
    first, _ = fulfilled(ledger, received="2026-02-02")
    second, proc = ledger.open([("phone", "+48 22 122 86 17")], "2026-02-10")
    assert ledger.show(second)["flags"] == ["possibly_excessive"]
    assert first in proc.stdout and first in json.dumps(ledger.show(second)["evidence"])
    # by the CRM id the resolution found (never given by the person)
    third, _ = ledger.open([("crm_id", "17")], "2026-02-11")
    assert ledger.show(third)["flags"] == ["possibly_excessive"]


def test_request_for_another_person_not_flagged(ledger):
    fulfilled(ledger, received="2026-02-02")
    other, _ = ledger.open([("email", KOWALSKI)], "2026-02-10")
    show = ledger.show(other)
    assert show["flags"] == []
    assert show["evidence"] == []


def test_repeat_after_the_data_changed_not_flagged(ledger):
    fulfilled(ledger, received="2026-02-02")
    proc = subprocess.run(["sqlite3", str(ledger.root / "crm" / "crm.sqlite"),
                           "UPDATE contacts SET city = 'Gdańsk' WHERE id = 17; SELECT changes();"],
                          capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.strip() == "1", proc.stderr
    second, _ = ledger.open([("email", ZOFIA)], "2026-02-10")
    assert ledger.show(second)["flags"] == []


def test_repeat_outside_the_window_not_flagged(ledger):
    """repeat_window P3M: a copy delivered 3 Feb does not make a request of 10 Jun excessive."""
    fulfilled(ledger, received="2026-02-02")
    later, _ = ledger.open([("email", ZOFIA)], "2026-06-10")
    assert ledger.show(later)["flags"] == []


def test_repeat_without_a_delivered_copy_not_flagged(ledger):
    first, _ = ledger.open([("email", ZOFIA)], "2026-02-02")
    ledger.verify(first, "2026-02-03")
    second, _ = ledger.open([("email", ZOFIA)], "2026-02-10")
    assert ledger.show(second)["flags"] == []


# =========================================================================== refusal and withdrawal

def test_refuse_needs_a_reason(ledger):
    rid, _ = ledger.open([("email", ZOFIA)], "2026-02-02")
    proc = ledger.request("refuse", rid, "--today", "2026-02-03")
    assert proc.returncode == EX_USAGE, output(proc)
    assert ledger.show(rid)["status"] == "received"


def test_refuse_records_the_reason_and_is_final(ledger):
    rid, _ = ledger.open([("email", ZOFIA)], "2026-02-02")
    ledger.verify(rid, "2026-02-03")
    reason = "Manifestly excessive: the fifth identical request this month (Art. 12(5)(b))"
    proc = ledger.request("refuse", rid, "--reason", reason, "--today", "2026-02-04")
    assert proc.returncode == 0, proc.stderr
    show = ledger.show(rid)
    assert show["status"] == "refused"
    assert show["refusal_reason"] == reason
    refused(ledger.request("verify", rid, "--method", METHOD, "--by", BY, "--today", "2026-02-05"))
    refused(ledger.request("fulfil", rid, "--today", "2026-02-05"))
    refused(ledger.request("extend", rid, "--months", "1", "--reason", "r", "--today", "2026-02-05"))
    refused(ledger.request("withdraw", rid, "--today", "2026-02-05"))
    show = ledger.show(rid)
    assert (show["status"], show["refusal_reason"], show["deliveries"]) == ("refused", reason, [])
    assert statuses(show) == ["received", "verified", "refused"]
    assert ledger.archive_names() == []


def test_withdraw_is_final(ledger):
    rid, _ = ledger.open([("email", ZOFIA)], "2026-02-02")
    proc = ledger.request("withdraw", rid, "--reason", "The person asked us to stop", "--today", "2026-02-03")
    assert proc.returncode == 0, proc.stderr
    assert ledger.show(rid)["status"] == "withdrawn"
    refused(ledger.request("verify", rid, "--method", METHOD, "--by", BY, "--today", "2026-02-04"))
    refused(ledger.request("fulfil", rid, "--today", "2026-02-04"))
    refused(ledger.request("refuse", rid, "--reason", "r", "--today", "2026-02-04"))
    show = ledger.show(rid)
    assert show["status"] == "withdrawn"
    assert statuses(show) == ["received", "withdrawn"]
    assert ledger.archive_names() == []


# =========================================================================== lists

def build_calendar(ledger: Ledger) -> dict[str, str]:
    """Nine requests in January 2026, steps in date order. Deadlines: H 02-02 (fulfilled), J 02-04
    (verified), A 02-05, E 02-06 (refused), D 02-09 (fulfilled), G 02-09 extended to 03-09, F 02-09
    (withdrawn), B 02-12, C 02-20."""
    r = {}

    def op(name, received):
        r[name], _ = ledger.open([("email", f"list.{name.lower()}@example.invalid")], received)

    def ok(proc):
        assert proc.returncode == 0, proc.stderr

    op("H", "2026-01-02")
    ledger.verify(r["H"], "2026-01-03")
    ledger.fulfil(r["H"], "2026-01-03")
    op("J", "2026-01-04")
    op("A", "2026-01-05")
    ledger.verify(r["J"], "2026-01-05")
    op("E", "2026-01-06")
    op("D", "2026-01-07")
    ok(ledger.request("refuse", r["E"], "--reason", "Not the person's own data", "--today", "2026-01-07"))
    op("G", "2026-01-08")
    ledger.verify(r["D"], "2026-01-08")
    ledger.fulfil(r["D"], "2026-01-08")
    op("F", "2026-01-09")
    ok(ledger.request("withdraw", r["F"], "--today", "2026-01-10"))
    ok(ledger.request("extend", r["G"], "--months", "1", "--reason", "Complex", "--today", "2026-01-10"))
    op("B", "2026-01-12")
    op("C", "2026-01-20")
    want = {"H": "2026-02-02", "J": "2026-02-04", "A": "2026-02-05", "E": "2026-02-06", "D": "2026-02-09",
            "G": "2026-03-09", "F": "2026-02-09", "B": "2026-02-12", "C": "2026-02-20"}
    got = {name: ledger.show(rid)["deadline"] for name, rid in r.items()}
    assert got == want
    return r


def ids(rows) -> list[str]:
    out = [row["id"] for row in rows]
    assert len(out) == len(set(out)), f"an id listed twice: {out}"
    for row in rows:
        assert "history" not in row
    return sorted(out)


def test_list_overdue(ledger):
    r = build_calendar(ledger)
    assert ids(ledger.list("--overdue", "--today", "2026-02-15")) == sorted(r[x] for x in "ABJ")
    assert ids(ledger.list("--overdue", "--today", "2026-03-10")) == sorted(r[x] for x in "ABCGJ")
    assert ids(ledger.list("--overdue", "--today", "2026-01-31")) == []


def test_list_due_within_and_status(ledger):
    r = build_calendar(ledger)
    assert ids(ledger.list("--due-within", "7d", "--today", "2026-02-03")) == sorted(r[x] for x in "AJ")
    assert ids(ledger.list("--due-within", "30d", "--today", "2026-02-03")) == sorted(r[x] for x in "ABCJ")
    for status, names in [("received", "ABC"), ("verified", "J"), ("extended", "G"), ("fulfilled", "DH"),
                          ("refused", "E"), ("withdrawn", "F")]:
        assert ids(ledger.list("--status", status, "--today", "2026-02-03")) == sorted(r[x] for x in names), status
    everything = ledger.list("--today", "2026-02-03")
    assert ids(everything) == sorted(r.values())
    by_id = {row["id"]: row for row in everything}
    assert by_id[r["G"]]["status"] == "extended" and by_id[r["G"]]["deadline"] == "2026-03-09"


# =========================================================================== audit trail

def audited(ledger: Ledger) -> tuple[str, str]:
    """open (x2), verify, fulfil, refuse: at least five audit rows."""
    zofia, _ = ledger.open([("email", ZOFIA), ("phone", ZOFIA_PHONE)], "2026-02-02")
    other, _ = ledger.open([("email", KOWALSKI)], "2026-02-02")
    ledger.verify(zofia, "2026-02-03")
    ledger.fulfil(zofia, "2026-02-04")
    proc = ledger.request("refuse", other, "--reason", "Identity could not be confirmed", "--today", "2026-02-05")
    assert proc.returncode == 0, proc.stderr
    count = int(ledger.sql("SELECT count(*) FROM audit;").strip())
    assert count >= 5, f"only {count} audit rows after five actions"
    return zofia, other


def tamper(ledger: Ledger, sql: str) -> None:
    """Change the audit table as its database's administrator. Triggers that guard it are dropped first:
    whoever can open the file (or owns the database) can do the same, and the chain is what must tell."""
    before = ledger.sql("SELECT count(*), coalesce(sum(length(detail)), 0) FROM audit;")
    if ledger.backend == "sqlite":
        names = ledger.sqlite("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit';").stdout.split()
        drops = "".join(f'DROP TRIGGER "{n}"; ' for n in names)
        proc = ledger.sqlite(drops + sql + " SELECT changes();")
        assert proc.stdout.split()[-1] == "1", f"the tampering changed no row: {proc.stdout!r}"
    else:
        if not sql.startswith("INSERT"):  # appending is what the table is for; changing is refused, even to its owner
            with pytest.raises(RuntimeError, match="append-only"):
                ledger.sql(sql)
        ledger.sql("DROP TRIGGER audit_no_update ON audit; DROP TRIGGER audit_no_truncate ON audit; " + sql)
    assert ledger.sql("SELECT count(*), coalesce(sum(length(detail)), 0) FROM audit;") != before, "the tampering changed nothing"


def audit_fails_naming(ledger: Ledger, row: int) -> None:
    proc = ledger.audit("verify")
    text = output(proc)
    assert proc.returncode == EX_REFUSED, f"audit verify exit {proc.returncode}: {text}"
    named = re.findall(r"\brow (\d+)\b", text)
    assert named, f"no row named: {text!r}"
    assert int(named[0]) == row, f"the first row named is {named[0]}, expected {row}: {text!r}"
    for bad in ("Traceback", "Fatal error", "Stack dump"):
        assert bad not in text


def test_audit_intact_chain_and_no_personal_data(ledger):
    zofia, other = audited(ledger)
    proc = ledger.audit("verify")
    assert proc.returncode == 0, output(proc)

    proc = ledger.audit("export")
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    assert len(rows) >= 5
    for row in rows:
        assert {"seq", "at", "request_id", "action", "detail", "prev_hash", "hash"} <= set(row), row
    seqs = [row["seq"] for row in rows]
    assert seqs == list(range(seqs[0], seqs[0] + len(rows))), f"seq not consecutive: {seqs}"
    for prev, row in zip(rows, rows[1:]):
        assert row["prev_hash"] == prev["hash"], f"row {row['seq']}: prev_hash is not row {prev['seq']}'s hash"
    assert len({row["hash"] for row in rows}) == len(rows)
    assert {zofia, other} <= {row["request_id"] for row in rows}

    # no identifier of a person, in the export or in the table itself
    dump = ledger.sql("SELECT * FROM audit;")
    for text, where in ((proc.stdout, "audit export"), (dump, "the audit table")):
        low = text.lower()
        for secret in (ZOFIA, "zofia", "wisniewska", "wiśniewska", "example.pl", ZOFIA_E164, "221228617",
                       "22 122", "122-86-17", KOWALSKI, "kowalski", "example.net"):
            assert secret.lower() not in low, f"{where} holds {secret!r}"


def test_audit_edited_row_named(ledger):
    audited(ledger)
    assert ledger.audit("verify").returncode == 0
    tamper(ledger, """UPDATE audit SET detail = '{"note": "edited by hand"}' WHERE seq = 3;""")
    audit_fails_naming(ledger, 3)


def test_audit_deleted_row_names_the_next(ledger):
    audited(ledger)
    tamper(ledger, "DELETE FROM audit WHERE seq = 3;")
    audit_fails_naming(ledger, 4)


def test_audit_forged_row_at_the_end_named(ledger):
    audited(ledger)
    last = int(ledger.sql("SELECT max(seq) FROM audit;").strip())
    tamper(ledger, "INSERT INTO audit (seq, at, request_id, action, detail, prev_hash, hash) "
                   "SELECT seq + 1, at, request_id, action, detail, hash, hash FROM audit "
                   f"WHERE seq = {last};")
    audit_fails_naming(ledger, last + 1)


# =========================================================================== unknown request

UNKNOWN = "DSR-2026-9999"
COMMANDS = {
    "show": ["--json"],
    "verify": ["--method", METHOD, "--by", BY, "--today", "2026-02-03"],
    "extend": ["--months", "1", "--reason", "r", "--today", "2026-02-03"],
    "fulfil": ["--today", "2026-02-03"],
    "copy": ["--accept-fee", "--today", "2026-02-03"],
    "refuse": ["--reason", "r", "--today", "2026-02-03"],
    "withdraw": ["--today", "2026-02-03"],
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_unknown_request_id(ledger, command):
    ledger.open([("email", ZOFIA)], "2026-02-02")
    proc = ledger.request(command, UNKNOWN, *COMMANDS[command])
    assert_one_line_error(proc, EX_USAGE, UNKNOWN)
    assert ledger.archive_names() == []


def test_list_streams_every_request_across_pages_and_years(ledger, tmp_path):
    """The list reads the ledger a page of 500 requests at a time (keyset on year and sequence): 1,003
    requests over two years come out whole, in id order, the same in JSON and as a table, and the
    overdue and due-soon lists are exactly their share."""
    rows = [(f"REF-{i:04d}", f"person{i}@example.com", "2025-12-01" if i % 3 == 0 else "2026-11-20") for i in range(1003)]
    manifest = tmp_path / "many.csv"
    manifest.write_text("request_id,email,received\n" + "".join(f"{r},{e},{d}\n" for r, e, d in rows), encoding="utf-8")
    opened = ledger.request("import", manifest, "--today", "2026-12-01", timeout=600)
    assert opened.returncode == 0, opened.stderr
    old = [r for r, _, d in rows if d.startswith("2025")]
    new = [r for r, _, d in rows if d.startswith("2026")]

    listed = ledger.list("--today", "2026-12-01")
    assert [r["reference"] for r in listed] == old + new, "every request once, 2025's first, each year in its order"
    assert [r["id"] for r in listed] == [f"DSR-2025-{n:04d}" for n in range(1, len(old) + 1)] + \
        [f"DSR-2026-{n:04d}" for n in range(1, len(new) + 1)]
    assert [r["reference"] for r in ledger.list("--overdue", "--today", "2026-12-01")] == old
    assert [r["reference"] for r in ledger.list("--due-within", "30d", "--today", "2026-12-01")] == new
    assert ledger.list("--status", "fulfilled", "--today", "2026-12-01") == []

    table = ledger.request("list", "--today", "2026-12-01")
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["ID", "KIND", "STATUS", "RECEIVED", "DEADLINE", "DUE", "COPIES", "FLAGS"]
    assert [line.split()[0] for line in lines[1:]] == [r["id"] for r in listed]
    # The columns line up: every row's STATUS starts where the header's does.
    at = lines[0].index("STATUS")
    assert all(line[at:].startswith("received") for line in lines[1:]), lines[1]
    assert f"{len(old)} open request(s) overdue" in table.stderr
