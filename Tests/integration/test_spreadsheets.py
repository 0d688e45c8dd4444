"""Spreadsheets that open right (issue 12, item 6).

What LibreOffice does with a CSV when nobody picks the options: its default import (what
`soffice --convert-to` and a double-click's dialog start with) reads the file in an 8-bit charset,
so every Polish letter is garbled, with a UTF-8 byte order mark or without, and in UTF-16 too; the
first test shows it on the bundle's own CSV. No CSV variant survives that, so every dataset also
comes as an .xlsx (SpreadsheetML streamed into a zip by libarchive), which LibreOffice's default
import reads with every letter intact: the second test converts each one and compares it with the
CSV cell by cell. The others check what a spreadsheet cannot hold (a cell over 32,767 characters,
numbers beyond 15 digits), that text never becomes a formula, and that what XML cannot carry
(control characters, a carriage return) or would misread (a text that looks like an `_xHHHH_`
escape, spaces at the ends) comes back from LibreOffice as written.

Needs `soffice` (Debian's libreoffice-calc-nogui; the Makefile installs it)."""
from __future__ import annotations

import csv
import io
import os
import re
import shutil
import subprocess
import zipfile
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from conftest import build_mini, run

ZOFIA = "zofia.wisniewska@example.pl"
AS_OF = "2026-01-31T09:00:00Z"
UTF8_CSV = "csv:Text - txt - csv (StarCalc):44,34,76,1"      # comma, double quote, UTF-8, from line 1
MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"


@pytest.fixture(scope="session")
def soffice() -> str:
    path = shutil.which("soffice")
    assert path, "soffice is missing: apt-get install libreoffice-calc-nogui (make deps does)"
    return path


def convert(soffice: str, files: list[Path], to: str, out: Path, home: Path) -> None:
    """LibreOffice's own conversion, headless, with a private profile."""
    out.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, HOME=str(home))
    proc = subprocess.run([soffice, "--headless", "--norestore", f"-env:UserInstallation=file://{home}/lo",
                           "--convert-to", to, "--outdir", str(out), *map(str, files)],
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr


def read_csv(path: Path) -> list[list[str]]:
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.reader(f))


@pytest.fixture(scope="module")
def bundle(dossier, samples_map, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("sheets")
    proc = run(dossier, "export", "--config", samples_map, "--email", ZOFIA, "--out", folder,
               "--request-id", "S1", "--as-of", AS_OF)
    assert proc.returncode == 0, proc.stderr
    with zipfile.ZipFile(proc.stdout.splitlines()[-1].strip()) as z:
        z.extractall(folder / "bundle")
    return folder / "bundle"


def test_libreoffice_default_import_garbles_a_utf8_csv(soffice, bundle, tmp_path):
    """Why the .xlsx exists: the bundle's CSV through LibreOffice's default import loses its letters."""
    contacts = bundle / "data" / "crm" / "contacts.csv"
    assert "Wiśniewska" in contacts.read_text(encoding="utf-8")
    convert(soffice, [contacts], "ods", tmp_path / "ods", tmp_path)
    convert(soffice, [tmp_path / "ods" / "contacts.ods"], UTF8_CSV, tmp_path / "back", tmp_path)
    text = (tmp_path / "back" / "contacts.csv").read_text(encoding="utf-8")
    assert "Wiśniewska" not in text and "WiÅ›niewska" in text, text[:300]


def test_every_spreadsheet_opens_in_libreoffice_with_the_csvs_cells(soffice, bundle, tmp_path):
    sheets = sorted((bundle / "data").glob("*/*.xlsx"))
    assert sheets and len(sheets) == len(list((bundle / "data").glob("*/*.csv")))
    convert(soffice, sheets, UTF8_CSV, tmp_path / "back", tmp_path)
    letters = ""
    for sheet in sheets:
        got = read_csv(tmp_path / "back" / (sheet.stem + ".csv"))
        want = read_csv(sheet.with_suffix(".csv"))
        assert got[0] == want[0], f"{sheet}: header {got[0]} vs the CSV's {want[0]}"
        assert len(got) == len(want), f"{sheet}: {len(got) - 1} rows, the CSV has {len(want) - 1}"
        for r, (g, w) in enumerate(zip(got[1:], want[1:]), 2):
            for c, (gc, wc) in enumerate(zip(g, w)):
                assert same_cell(gc, wc), f"{sheet.name} row {r} column {want[0][c]}: {gc!r} vs the CSV's {wc!r}"
        letters += "".join(ch for row in got for cell in row for ch in cell if ch in "ąćęłńóśźżĄĆĘŁŃÓŚŹŻ")
    assert "ś" in letters and "ł" in letters, "no Polish letter came through at all"


def same_cell(shown: str, csv_cell: str) -> bool:
    """LibreOffice's rendering of the spreadsheet's cell against the CSV's cell: text alike (the CSV
    prefixes a formula-like cell with '), numbers equal as numbers, booleans in either case."""
    if csv_cell.startswith("'") and csv_cell[1:2] in ("=", "+", "-", "@", "\t", "\r"):
        csv_cell = csv_cell[1:]
    if shown == csv_cell:
        return True
    if csv_cell in ("true", "false"):
        return shown.lower() == csv_cell
    try:
        return float(shown) == float(csv_cell)
    except ValueError:
        return False


def cells(xlsx: Path) -> list[dict[str, tuple[str, str]]]:
    """The first sheet's rows, each {column letters: (type, text)}, read with the standard library:
    t="inlineStr" text ("s"), "n" numbers, "b" booleans. An empty cell is absent."""
    with zipfile.ZipFile(xlsx) as z:
        root = ET.fromstring(z.read("xl/worksheets/sheet1.xml"))
    rows = []
    for row in root.iter(f"{MAIN}row"):
        out = {}
        for c in row.iter(f"{MAIN}c"):
            column = re.match(r"[A-Z]+", c.get("r")).group(0)
            kind = c.get("t", "n")
            if kind == "inlineStr":
                out[column] = ("s", "".join(t.text or "" for t in c.iter(f"{MAIN}t")))
            else:
                v = c.find(f"{MAIN}v")
                out[column] = (kind, v.text if v is not None else "")
        rows.append(out)
    return rows


def test_what_a_spreadsheet_cannot_hold_is_said_and_text_stays_text(dossier, tmp_path):
    long = "ż" * 40_000
    csv_text = ('Email Address,Name,Phone,Note\r\n'
                'anna@example.pl,Anna,,=HYPERLINK("http://x")\r\n'
                f'anna@example.pl,Anna,,{long}\r\n')
    jsonl_text = ('{"seq": 1, "type": "login", "contact_id": 1, "amount": 12.5, "big": 1234567890123456789, "ok": true}\n'
                  '{"seq": 2, "type": "login", "contact_id": 1, "amount": -3, "big": 1e400, "ok": false}\n')
    map_path = build_mini(tmp_path / "mini", csv_text=csv_text, jsonl_text=jsonl_text)
    proc = run(dossier, "export", "--config", map_path, "--email", "anna@example.pl", "--out", tmp_path / "out",
               "--request-id", "X1", "--as-of", AS_OF)
    assert proc.returncode == 0, proc.stderr
    with zipfile.ZipFile(proc.stdout.splitlines()[-1].strip()) as z:
        z.extractall(tmp_path / "b")

    def table(path):
        rows = cells(tmp_path / "b" / path)
        assert all(kind == "s" for kind, _ in rows[0].values()), "the header is text"
        header = {column: text for column, (_, text) in rows[0].items()}
        return [{header[column]: cell for column, cell in row.items()} for row in rows[1:]]

    notes = [r["Note"] for r in table("data/lists/subscribers.xlsx")]
    assert ("s", '=HYPERLINK("http://x")') in notes, "a formula-like text is text, not a formula"
    cut = [text for _, text in notes if text.endswith(" […]")]
    assert len(cut) == 1 and len(cut[0]) == 32_767 and cut[0].startswith("żżż"), [len(t) for _, t in notes]

    logins = table("data/events/logins.xlsx")
    assert [r["amount"] for r in logins] == [("n", "12.5"), ("n", "-3")]
    assert [r["big"] for r in logins] == [("s", "1234567890123456789"), ("s", "1e400")], "beyond 15 digits: text, exactly"
    assert [r["ok"] for r in logins] == [("b", "1"), ("b", "0")]


def test_text_xml_cannot_carry_comes_back_from_libreoffice_as_written(dossier, soffice, tmp_path):
    notes = ["tab\there", "bell\x07end", "two\r\nlines", "_x0041_ stays", "  spaces at both ends  ", "a & b < c > d", "ünïcödé ż 😀"]
    csv_text = "Email Address,Name,Phone,Note\r\n" + "".join(f'anna@example.pl,Anna,,"{n}"\r\n' for n in notes)
    map_path = build_mini(tmp_path / "mini", csv_text=csv_text)
    proc = run(dossier, "export", "--config", map_path, "--email", "anna@example.pl", "--out", tmp_path / "out",
               "--request-id", "X2", "--as-of", AS_OF)
    assert proc.returncode == 0, proc.stderr
    with zipfile.ZipFile(proc.stdout.splitlines()[-1].strip()) as z:
        z.extractall(tmp_path / "b")
    sheet = tmp_path / "b" / "data/lists/subscribers.xlsx"
    convert(soffice, [sheet], UTF8_CSV, tmp_path / "back", tmp_path)
    back = read_csv(tmp_path / "back" / "subscribers.csv")
    column = back[0].index("Note")
    # LibreOffice keeps a line break inside a cell as a line feed alone; the sheet itself holds the
    # carriage return, as the standard's escape.
    assert sorted(row[column] for row in back[1:]) == sorted(n.replace("\r\n", "\n") for n in notes)
    with zipfile.ZipFile(sheet) as z:
        assert "two_x000D_\nlines" in z.read("xl/worksheets/sheet1.xml").decode()


def test_the_same_records_give_the_same_spreadsheet(dossier, samples_map, tmp_path):
    digests = []
    for i in range(2):
        out = tmp_path / f"o{i}"
        proc = run(dossier, "export", "--config", samples_map, "--email", ZOFIA, "--out", out,
                   "--request-id", "D1", "--as-of", AS_OF)
        assert proc.returncode == 0, proc.stderr
        with zipfile.ZipFile(proc.stdout.splitlines()[-1].strip()) as z:
            digests.append({n: z.read(n) for n in z.namelist() if n.endswith(".xlsx")})
    assert digests[0] and digests[0] == digests[1]
