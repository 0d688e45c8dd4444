"""Every EEA calendar (issue 10, item 8): the public holidays of the EU and EEA states and their regions,
generated from PyPI's `holidays` into a committed table; which calendar deadlines use (ledger.holidays,
else the supervisory authority's country, else default_region), said by `validate`; deadlines across
movable holidays of Germany (Bavaria), France and Poland through the ledger."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import EX_USAGE, REPO, assert_one_line_error, run
from ledger_helpers import Ledger, make_samples_copy

GENERATOR = REPO / "Sources" / "DossierModel" / "Holidays" / "generate.py"
TABLE = REPO / "Sources" / "DossierModel" / "Holidays" / "HolidayTable+Data.swift"
ZOFIA = "zofia.wisniewska@example.pl"


def test_the_committed_table_is_what_the_generator_writes(tmp_path):
    """Regenerated with the pinned `holidays` package, the table is byte for byte the committed one."""
    out = tmp_path / "table.swift"
    proc = subprocess.run([sys.executable, GENERATOR, out], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes() == TABLE.read_bytes(), "HolidayTable+Data.swift is stale: run `make holidays`"


def test_the_table_against_the_package(tmp_path):
    """Spot checks against the package itself, holiday by holiday (not through the generator)."""
    import holidays
    text = TABLE.read_text(encoding="utf-8")
    national = dict(re.findall(r'^        "([A-Z]{2})": "([^"]*)",$', text, re.M))
    assert sorted(national) == sorted(
        "AT BE BG CY CZ DE DK EE ES FI FR GR HR HU IE IS IT LI LT LU LV MT NL NO PL PT RO SE SI SK".split())
    for country in ("DE", "FR", "PL", "IT", "SE"):
        kwargs = {"include_sundays": False} if country == "SE" else {}
        want = sorted(f"{d.month:02d}{d.day:02d}" for d in holidays.country_holidays(country, years=2027, **kwargs)
                      if d.weekday() < 5)
        got = next(part for part in national[country].split(";") if part.startswith("2027:"))[5:].split(",")
        assert got == want, country


def calendar_map(tmp_path, holidays_block: str | None, authority_country: str | None = None,
                 default_region: str | None = None) -> Path:
    path = make_samples_copy(tmp_path / "m")
    text = path.read_text(encoding="utf-8")
    text = re.sub(r"  holidays:\n    country: PL\n    extra: \[[^\]]*\]\n", holidays_block or "", text)
    if authority_country:
        text, n = re.subn(r"(^  supervisory_authority:\n)", rf"\g<1>    country: {authority_country}\n", text, flags=re.M)
        assert n == 1, "no supervisory_authority block in the samples' map"
    if default_region:
        text, n = re.subn(r"^  default_region: .*$", f"  default_region: {default_region}", text, flags=re.M)
        assert n == 1
    path.write_text(text, encoding="utf-8")
    return path


def deadlines_line(dossier, config) -> str:
    proc = run(dossier, "validate", "--config", config)
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stdout.splitlines() if line.startswith("deadlines: ")]
    assert len(lines) == 1, proc.stdout
    return lines[0]


def test_validate_says_which_calendar_deadlines_use(dossier, tmp_path):
    bavaria = calendar_map(tmp_path / "by", "  holidays:\n    country: DE\n    region: BY\n    extra: [2026-07-15]\n")
    assert re.fullmatch(r"deadlines: public holidays of DE-BY \(2020–2045, from holidays [0-9.]+\) and 1 extra days "
                        r"\(ledger\.holidays\.extra\), chosen by ledger\.holidays", deadlines_line(dossier, bavaria))
    authority = calendar_map(tmp_path / "fr", None, authority_country="FR")
    assert re.fullmatch(r"deadlines: public holidays of FR \(2020–2045, from holidays [0-9.]+\), "
                        r"chosen by controller\.supervisory_authority\.country", deadlines_line(dossier, authority))
    region = calendar_map(tmp_path / "pl", None)
    assert re.fullmatch(r"deadlines: public holidays of PL \(.*\), chosen by controller\.default_region",
                        deadlines_line(dossier, region))
    nowhere = calendar_map(tmp_path / "us", None, default_region="US")
    assert deadlines_line(dossier, nowhere) == (
        "deadlines: weekends only: no public holiday calendar for US (controller.default_region); set "
        "ledger.holidays.country to an EU or EEA state, or list the days under ledger.holidays.extra")


@pytest.mark.parametrize("block,must", [
    ("  holidays:\n    country: US\n", ("public holidays are built in for the EU and EEA states", "AT, BE", "extra")),
    ("  holidays:\n    country: DE\n    region: XX\n", ("XX is not a region of DE", "BB, BE, BW, BY")),
    ("  holidays:\n    region: BY\n", ("a holiday region needs its country",)),
    ("  holidays:\n    country: BG\n    region: 01\n", ("BG has no regions with holidays of their own",)),
])
def test_a_calendar_that_does_not_exist_is_refused(dossier, tmp_path, block, must):
    config = calendar_map(tmp_path, block)
    proc = run(dossier, "validate", "--config", config)
    assert_one_line_error(proc, EX_USAGE, *must, "ledger.holidays")


@pytest.mark.parametrize("block,authority,received,want", [
    # Corpus Christi, 4 June 2026: Bavaria only.
    ("  holidays:\n    country: DE\n    region: BY\n", None, "2026-05-04", "2026-06-05"),
    ("  holidays:\n    country: DE\n", None, "2026-05-04", "2026-06-04"),
    # France (from the supervisory authority's country): Ascension 14 May, Whit Monday 25 May 2026.
    (None, "FR", "2026-04-14", "2026-05-15"),
    (None, "FR", "2026-04-25", "2026-05-26"),
    # Poland (from default_region): Easter Monday 2027 (29 March), Corpus Christi 2027 (27 May).
    (None, None, "2027-02-28", "2027-03-30"),
    (None, None, "2027-04-27", "2027-05-28"),
])
def test_deadlines_across_movable_holidays(dossier, tmp_path, block, authority, received, want):
    ledger = Ledger(dossier, calendar_map(tmp_path, block, authority_country=authority))
    rid, _ = ledger.open([("email", ZOFIA)], received)
    assert ledger.show(rid)["deadline"] == want
