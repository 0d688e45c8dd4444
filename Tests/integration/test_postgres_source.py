"""`kind: postgres` against a real server: a private cluster on 127.0.0.1 (pg_server.py), Chinook
loaded from its PostgreSQL script, and a table with a column of every type the README's table names.

- Chinook in PostgreSQL gives, for each of its 59 customers, the same records as its SQLite copy
  (a batch of all 59 on each; timestamps and decimals compared by meaning, the only differences
  between the two scripts' types).
- Every PostgreSQL type becomes what the README says, in JSON, CSV and XML.
- validate rejects lookups that would write and names the failing query; connection errors (no
  variable, wrong password, nothing listening, no such database) are one sentence with exit 66 and
  never the password.
"""
import csv
import io
import json
import os
import re
import subprocess
import threading
import time
from decimal import Decimal
from pathlib import Path

import pytest

from conftest import (AS_OF, CHINOOK, EX_NOINPUT, EX_USAGE, assert_one_line_error, data_files,
                      read_archive)

URL_VARIABLE = "CHINOOK_DATABASE_URL"

# The SQLite map's queries, and the same lookups against the PostgreSQL script's snake_case
# names, aliased back to Chinook's original column names so that both maps describe the same fields.
CUSTOMER_COLUMNS = ('customer_id AS "CustomerId", first_name AS "FirstName", last_name AS "LastName", '
                    'company AS "Company", address AS "Address", city AS "City", state AS "State", '
                    'country AS "Country", postal_code AS "PostalCode", phone AS "Phone", fax AS "Fax", '
                    'email AS "Email", support_rep_id AS "SupportRepId"')
REPLACEMENTS = [
    ("    kind: sqlite\n    path: chinook.sqlite\n", f"    kind: postgres\n    url_env: {URL_VARIABLE}\n"),
    ("SELECT * FROM Customer WHERE lower(Email) = :value",
     f"SELECT {CUSTOMER_COLUMNS} FROM customer WHERE lower(email) = :value"),
    # PostgreSQL has no normalize_phone (it runs in Dossier's process, for SQLite): Chinook's phones
    # all carry their country code, so digits after a + are their E.164 form.
    ("SELECT * FROM Customer WHERE normalize_phone(Phone) = :value",
     f"SELECT {CUSTOMER_COLUMNS} FROM customer WHERE '+' || regexp_replace(phone, '\\D', '', 'g') = :value"),
    ("SELECT * FROM Invoice WHERE CustomerId = :value",
     'SELECT invoice_id AS "InvoiceId", customer_id AS "CustomerId", invoice_date AS "InvoiceDate", '
     'billing_address AS "BillingAddress", billing_city AS "BillingCity", billing_state AS "BillingState", '
     'billing_country AS "BillingCountry", billing_postal_code AS "BillingPostalCode", total AS "Total" '
     'FROM invoice WHERE customer_id = :value'),
    ("SELECT il.InvoiceLineId AS InvoiceLineId, il.InvoiceId AS InvoiceId,\n"
     "            il.TrackId AS TrackId, t.Name AS TrackName, il.UnitPrice AS UnitPrice,\n"
     "            il.Quantity AS Quantity\n"
     "            FROM InvoiceLine AS il JOIN Track AS t ON t.TrackId = il.TrackId\n"
     "            WHERE il.InvoiceId = :value",
     'SELECT il.invoice_line_id AS "InvoiceLineId", il.invoice_id AS "InvoiceId",\n'
     '            il.track_id AS "TrackId", t.name AS "TrackName", il.unit_price AS "UnitPrice",\n'
     '            il.quantity AS "Quantity"\n'
     '            FROM invoice_line AS il JOIN track AS t ON t.track_id = il.track_id\n'
     '            WHERE il.invoice_id = :value'),
]


def pg_map_text(sqlite_map_text: str) -> str:
    text = sqlite_map_text
    for old, new in REPLACEMENTS:
        assert text.count(old) == 1, f"chinook.yaml changed: {old[:50]!r} is not there once"
        text = text.replace(old, new)
    return text


def timed_export(dossier, config, email, out, env) -> tuple[subprocess.CompletedProcess, float]:
    """One export of `email` as request R-1, and the seconds it took."""
    started = time.monotonic()
    proc = run_env(dossier, "export", "--config", config, "--email", email, "--out", out, "--request-id", "R-1",
                   "--as-of", AS_OF, env=env, timeout=60)
    return proc, time.monotonic() - started


def run_env(dossier, *args, env=None, timeout=300) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if k != URL_VARIABLE}
    full.update(env or {})
    return subprocess.run([dossier, *map(str, args)], capture_output=True, text=True, env=full, timeout=timeout)


@pytest.fixture(scope="module")
def pg_map(tmp_path_factory, chinook_map) -> Path:
    folder = tmp_path_factory.mktemp("chinook-pg")
    path = folder / "chinook-postgres.yaml"
    path.write_text(pg_map_text(chinook_map.read_text(encoding="utf-8")), encoding="utf-8")
    return path


def customers(chinook_map: Path) -> list[tuple[int, str]]:
    import sqlite3
    conn = sqlite3.connect(f"file:{chinook_map.parent / 'chinook.sqlite'}?mode=ro", uri=True)
    try:
        return list(conn.execute("SELECT CustomerId, Email FROM Customer ORDER BY CustomerId"))
    finally:
        conn.close()


def records_of(archive: Path) -> dict:
    return {f"{s}/{d}": json.loads(files["json"])["records"] for (s, d), files in data_files(read_archive(archive)).items()}


def meaning(value):
    """A value as both databases mean it: SQLite keeps Chinook's dates as text with a space and its
    prices as REAL; PostgreSQL has timestamp and numeric(10,2). The PostgreSQL script writes its
    texts as N'…' literals, which are char(n) in PostgreSQL and lose trailing blanks on the way into a
    varchar column ('Edinburgh ' is stored as 'Edinburgh'): counted apart by the test."""
    if isinstance(value, str) and len(value) == 19 and value[10] in " T" and value[:4].isdigit():
        return value.replace(" ", "T")
    if isinstance(value, str):
        return value.rstrip(" ")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return Decimal(str(value)).normalize()
    if isinstance(value, dict):
        return {k: meaning(v) for k, v in value.items()}
    return value


def test_chinook_postgres_gives_the_sqlite_records_for_every_customer(dossier, chinook_map, pg_map, pg_chinook, tmp_path):
    people = customers(chinook_map)
    assert len(people) == 59
    manifest = tmp_path / "requests.csv"
    with open(manifest, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["request_id", "email"])
        w.writerows([[f"C-{cid}", email] for cid, email in people])
    env = {URL_VARIABLE: pg_chinook.url}
    results = {}
    for name, config in (("sqlite", chinook_map), ("postgres", pg_map)):
        out = tmp_path / name
        proc = run_env(dossier, "batch", "--config", config, "--requests", manifest, "--out", out,
                       "--as-of", AS_OF, "--jobs", "2", env=env)
        assert proc.returncode == 0, proc.stderr
        results[name] = {cid: records_of(out / f"dossier-C-{cid}.zip") for cid, _ in people}

    total = blanks = 0
    for cid, _ in people:
        lite, pg = results["sqlite"][cid], results["postgres"][cid]
        assert sorted(lite) == sorted(pg) == ["store/customers", "store/invoice_lines", "store/invoices"], cid
        for dataset in lite:
            assert len(lite[dataset]) == len(pg[dataset]), (cid, dataset)
            for a, b in zip(lite[dataset], pg[dataset]):
                assert list(a) == list(b), (cid, dataset, "field order")
                assert meaning(a) == meaning(b), (cid, dataset, a, b)
                blanks += sum(1 for k in a if isinstance(a[k], str) and a[k] != b[k] and a[k].rstrip(" ") == b[k])
                total += 1
    # 59 customers, 412 invoices, 2,240 invoice lines: every record of Chinook's sales, once.
    assert total == 59 + 412 + 2240
    # the only texts that differ: customer 54's city and its 7 invoices' billing city ('Edinburgh ')
    assert blanks == 8


def test_postgres_types_become_what_the_readme_says(dossier, pg_types, tmp_path):
    folder = tmp_path / "types"
    folder.mkdir()
    config = folder / "types.yaml"
    config.write_text(TYPES_MAP, encoding="utf-8")
    env = {"TYPES_DATABASE_URL": pg_types.url}
    proc = run_env(dossier, "validate", "--config", config, env=env)
    assert proc.returncode == 0, proc.stderr
    got = {}
    for email in ("typical@example.pl", "extremes@example.pl", "zeros@example.pl", "special@example.pl", "nulls@example.pl"):
        out = tmp_path / email.split("@")[0]
        proc = run_env(dossier, "export", "--config", config, "--email", email, "--out", out, "--request-id", "TYPES-1",
                       "--as-of", AS_OF, env=env)
        assert proc.returncode == 0, proc.stderr
        files = data_files(read_archive(out / "dossier-TYPES-1.zip"))[("db", "everything")]
        # the exact bytes of the JSON file's numbers survive: parse them as text
        (record,) = json.loads(files["json"], parse_float=str, parse_int=str)["records"]
        got[email.split("@")[0]] = (record, files)

    t, _ = got["typical"]
    assert t["c_smallint"] == "42" and t["c_integer"] == "123456"
    assert t["c_bigint"] == "9007199254740993"          # beyond a double's exact integers
    assert t["c_numeric"] == "-12.50"                     # the scale is kept
    assert t["c_real"] == "1.5" and t["c_double"] == "0.1"
    assert t["c_boolean"] is True
    assert t["c_text"] == "Zażółć gęślą jaźń\nŁódź, Świętokrzyska 5"
    assert t["c_char"] == "ab   "                         # char(5) pads, as PostgreSQL stores it
    assert t["c_date"] == "2026-01-31"
    assert t["c_timestamp"] == "2026-03-01T12:00:00.123456"
    assert t["c_timestamptz"] == "2026-03-01T11:00:00Z"   # an instant, in UTC
    assert t["c_time"] == "13:45:30.5"
    assert t["c_uuid"] == "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"
    assert t["c_json"] == {"b": "1", "a": ["1", "2.50"]}  # json keeps its text: order and 2.50
    assert t["c_jsonb"]["amount"] == "1230.00" and t["c_jsonb"]["big"] == "123456789012345678901234567890"
    assert t["c_jsonb"]["nested"] == {"list": ["1", {"deep": True}], "none": None}
    assert t["c_int_array"] == ["1", "2", "3"]
    assert t["c_text_array"] == ["zażółć", None, 'with "quotes", commas']
    assert t["c_int_matrix"] == [["1", "2"], ["3", "4"]]
    assert t["c_bytea"] == {"base64": "AP8Q"}
    assert t["c_enum"] == "happy"
    assert t["c_interval"] == "P1Y2M3DT4H5M6.5S"
    assert t["c_inet"] == "192.168.0.1/24"

    e, _ = got["extremes"]
    assert e["c_bigint"] == "-9223372036854775808"
    assert e["c_numeric"] == "1234567890123456789012345678901234567890"
    assert e["c_double"] == "1e+300"
    assert e["c_date"] == "0001-01-01"
    assert e["c_timestamptz"] == "2026-07-01T07:30:00Z"
    assert e["c_time"] == "23:59:59.999999"
    assert e["c_int_array"] == [] and e["c_int_matrix"] == [["1", "2", "3"], ["4", "5", "6"]]
    assert e["c_bytea"] == {"base64": ""}
    assert e["c_interval"] == "P-1DT-1S"
    assert e["c_inet"] == "::1"

    z, _ = got["zeros"]
    assert z["c_numeric"] == "0.00" and z["c_integer"] == "0"
    assert z["c_timestamptz"] == "1970-01-01T00:00:00Z"
    assert z["c_jsonb"] == {"zero": "0.00", "empty": {}, "list": []} or z["c_jsonb"] == {"list": [], "zero": "0.00", "empty": {}}

    s, _ = got["special"]
    assert s["c_numeric"] == "NaN" and s["c_real"] == "-Infinity" and s["c_double"] == "Infinity"
    assert s["c_date"] == "infinity" and s["c_timestamp"] == "-infinity"
    assert s["c_time"] == "24:00:00"
    assert s["c_int_matrix"] == [[None, "1"], ["2", None]]
    assert s["c_inet"] == "2001:db8::/32"

    n, files = got["nulls"]
    assert all(v is None for k, v in n.items() if k not in ("id", "email")), n
    # CSV: NULL is an empty cell; XML: one <field> per column (the schemas are checked elsewhere)
    rows = list(csv.reader(io.StringIO(files["csv"].decode("utf-8"))))
    assert rows[1][2:] == [""] * (len(rows[0]) - 2)

    _, files = got["typical"]
    rows = list(csv.DictReader(io.StringIO(files["csv"].decode("utf-8"))))
    assert rows[0]["c_numeric"] == "-12.50"              # a number: not neutralised
    assert rows[0]["c_jsonb.amount"] == "1230.00"        # nested values are dotted columns
    assert b'<field name="c_numeric">-12.50</field>' in files["xml"]


TYPES_MAP = """\
version: 1
controller:
  name: Types Co
  supervisory_authority: { name: Authority }
  languages: [en]
  default_region: PL
purposes:
  service: { title: Service, legal_basis: contract }
categories:
  misc: { title: Everything }
sources:
  db:
    kind: postgres
    url_env: TYPES_DATABASE_URL
    datasets:
      everything:
        key: [id]
        lookup:
          email: SELECT * FROM everything WHERE email = :value
        purposes: [service]
        retention: { criteria: Until the test ends }
        origin: subject
        fields:
          id: { category: misc }
"""


def map_with(tmp_path: Path, lookup: str, source_keys: str = f"url_env: {URL_VARIABLE}") -> Path:
    text = TYPES_MAP.replace("url_env: TYPES_DATABASE_URL", source_keys) \
                    .replace("email: SELECT * FROM everything WHERE email = :value", f"email: {lookup}")
    path = tmp_path / "map.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("query", [
    '"INSERT INTO customer (customer_id, first_name, last_name, email) VALUES (999, :value, :value, :value) RETURNING *"',
    '"WITH gone AS (DELETE FROM invoice_line WHERE invoice_id = 1 RETURNING *) SELECT * FROM customer WHERE email = :value"',
    '"SELECT * FROM customer WHERE email = :value FOR UPDATE"',
    '"UPDATE customer SET fax = NULL WHERE email = :value RETURNING *"',
])
def test_validate_rejects_a_lookup_that_would_write(dossier, pg_chinook, tmp_path, query):
    config = map_with(tmp_path, query)
    proc = run_env(dossier, "validate", "--config", config, env={URL_VARIABLE: pg_chinook.url})
    assert_one_line_error(proc, EX_USAGE, "would write", "map.yaml:")
    # and nothing was written
    assert pg_chinook.cluster.psql("SELECT count(*) FROM invoice_line", db="chinook").strip() == "2240"


def test_validate_names_a_query_that_does_not_run(dossier, pg_chinook, tmp_path):
    config = map_with(tmp_path, '"SELECT * FROM no_such_table WHERE email = :value"')
    proc = run_env(dossier, "validate", "--config", config, env={URL_VARIABLE: pg_chinook.url})
    assert_one_line_error(proc, EX_USAGE, "no_such_table", "42P01", "map.yaml:")


def test_a_yields_naming_a_column_the_query_does_not_return_is_an_error(dossier, pg_map, chinook_map, pg_chinook, tmp_path):
    """As for SQLite: `validate` knows each lookup's columns and names the yields key and the column
    (64, at the map's line); an export says which source and column (66), instead of a dataset whose
    yields silently never give an identifier."""
    text = pg_map.read_text(encoding="utf-8")
    assert text.count("yields: { customer_id: CustomerId }") == 1
    broken = tmp_path / "broken.yaml"
    broken.write_text(text.replace("yields: { customer_id: CustomerId }", "yields: { customer_id: NoSuchColumn }"), encoding="utf-8")
    env = {URL_VARIABLE: pg_chinook.url}
    proc = run_env(dossier, "validate", "--config", broken, env=env)
    assert_one_line_error(proc, EX_USAGE, "broken.yaml:", "yields", "NoSuchColumn")
    out = tmp_path / "out"
    email = customers(chinook_map)[0][1]
    proc = run_env(dossier, "export", "--config", broken, "--email", email, "--out", out, "--request-id", "R-1",
                   "--as-of", AS_OF, env=env)
    assert_one_line_error(proc, EX_NOINPUT, "source 'store'", "NoSuchColumn", "yields")
    assert not out.exists() or not any(out.iterdir())


def test_a_table_locked_by_a_writer_is_waited_for_a_bounded_time(dossier, pg_map, chinook_map, pg_chinook, tmp_path):
    """A migration holds ACCESS EXCLUSIVE on a table a lookup reads: the lookup waits 5 s (lock_timeout,
    as a SQLite source waits for its file's lock), then the export stops with one sentence and exit 75
    (try again later), instead of waiting for ever; validate says the same."""
    cluster = pg_chinook.cluster
    holder_failed = []

    def hold():
        try:
            cluster.psql("BEGIN; LOCK TABLE customer IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(60); ROLLBACK;", db="chinook")
        except RuntimeError as e:       # terminated below
            holder_failed.append(str(e))

    holder = threading.Thread(target=hold, daemon=True)
    holder.start()
    try:
        for _ in range(100):
            if cluster.psql("SELECT count(*) FROM pg_locks WHERE mode = 'AccessExclusiveLock' AND relation = 'customer'::regclass;",
                            db="chinook").strip() == "1":
                break
            time.sleep(0.1)
        else:
            pytest.fail("the lock was not taken")
        env = {URL_VARIABLE: pg_chinook.url}
        email = customers(chinook_map)[0][1]
        proc, took = timed_export(dossier, pg_map, email, tmp_path / "out", env)
        assert_one_line_error(proc, 75, "source 'store'", "locked by another session", "waited 5 s", "try again later")
        assert 4.5 < took < 30, took
        assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
        assert_one_line_error(run_env(dossier, "validate", "--config", pg_map, env=env, timeout=60), 75, "locked by another session")
    finally:
        cluster.psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(60)%' AND pid <> pg_backend_pid();")
        holder.join(timeout=30)
    proc = run_env(dossier, "export", "--config", pg_map, "--email", email, "--out", tmp_path / "after",
                   "--request-id", "R-2", "--as-of", AS_OF, env=env)
    assert proc.returncode == 0, proc.stderr


def test_a_lookup_that_runs_past_the_source_timeout_is_cancelled(dossier, pg_map, chinook_map, pg_chinook, tmp_path):
    """`timeout` (seconds one lookup may run, default 300) is the server's statement_timeout: a lookup
    that runs longer is cancelled and the export stops with one sentence (66), never quoting the value;
    a timeout out of 1-3600 is a map error at its line."""
    text = pg_map.read_text(encoding="utf-8")
    slow = text.replace(f"url_env: {URL_VARIABLE}", f"url_env: {URL_VARIABLE}\n    timeout: 1", 1) \
               .replace("FROM customer WHERE lower(email) = :value", "FROM customer, pg_sleep(3) WHERE lower(email) = :value", 1)
    assert slow.count("pg_sleep(3)") == 1 and slow.count("timeout: 1") == 1
    path = tmp_path / "slow.yaml"
    path.write_text(slow, encoding="utf-8")
    env = {URL_VARIABLE: pg_chinook.url}
    email = customers(chinook_map)[0][1]
    proc, took = timed_export(dossier, path, email, tmp_path / "out", env)
    line = assert_one_line_error(proc, EX_NOINPUT, "slow.yaml:", "source 'store'", "cancelled the lookup", "timeout of 1 s")
    assert email not in line
    assert took < 2.9, took
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    for bad in ("0", "3601", "soon"):
        path.write_text(slow.replace("timeout: 1", f"timeout: {bad}"), encoding="utf-8")
        assert_one_line_error(run_env(dossier, "validate", "--config", path, env=env), EX_USAGE, "slow.yaml:", "timeout")


def test_an_identifier_the_column_cannot_hold_finds_nothing(dossier, pg_map, pg_chinook, tmp_path):
    """customer_id is an integer column: an id 'abc' finds no invoice (it is no error), and the run goes
    on in the same snapshot (the next lookups still work)."""
    out = tmp_path / "out"
    proc = run_env(dossier, "export", "--config", pg_map, "--id", "customer_id=abc", "--id", "customer_id=7",
                   "--out", out, "--request-id", "R-1", "--as-of", AS_OF, env={URL_VARIABLE: pg_chinook.url})
    assert proc.returncode == 0, proc.stderr
    records = records_of(out / "dossier-R-1.zip")
    assert {r["CustomerId"] for r in records["store/invoices"]} == {7}
    assert len(records["store/invoices"]) == 7


@pytest.mark.parametrize("case", ["unset", "wrong_password", "nothing_listening", "no_database", "not_a_url",
                                  "never_answers", "never_answers_default", "bad_connect_timeout"])
def test_connection_errors_are_one_sentence_without_the_password(dossier, pg_map, pg_chinook, tmp_path, silent_server, case):
    good = pg_chinook
    silent = good.url.replace(f":{good.port}/", f":{silent_server}/")
    urls = {
        "unset": None,
        "wrong_password": good.url.replace("p%40ss", "wrong-secret-p%40ss"),
        "nothing_listening": good.url.replace(f":{good.port}/", f":{free_port()}/"),
        "no_database": good.url.replace("/chinook?", "/no_such_db?"),
        "not_a_url": "host=127.0.0.1 user=x password=hunter2",
        # a server that accepts the connection and never answers: given up after connect_timeout
        # (at least 2 s, as libpq reads it), or 10 s without it; never a run that hangs
        "never_answers": silent + "&connect_timeout=2",
        "never_answers_default": silent,
        "bad_connect_timeout": good.url + "&connect_timeout=0",
    }
    env = {} if urls[case] is None else {URL_VARIABLE: urls[case]}
    proc, took = timed_export(dossier, pg_map, "luisg@embraer.com.br", tmp_path / "out", env)
    expected = {
        "unset": ["source 'store'", URL_VARIABLE, "not set"],
        "wrong_password": ["source 'store'", "dossier_reader", "28P01"],
        "nothing_listening": ["source 'store'", "connection refused"],
        "no_database": ["source 'store'", "no_such_db", "3D000"],
        "not_a_url": ["source 'store'", URL_VARIABLE, "not a postgres:// URL"],
        "never_answers": ["source 'store'", "no answer in time"],
        "never_answers_default": ["source 'store'", "no answer in time"],
        "bad_connect_timeout": ["source 'store'", "connect_timeout=0", "at least 1"],
    }[case]
    if case == "never_answers":
        assert 1.5 < took < 8, took
    if case == "never_answers_default":
        assert 9 < took < 20, took
    line = assert_one_line_error(proc, EX_NOINPUT, *expected)
    for secret in (good.password, "wrong-secret", "hunter2", "p%40ss"):
        assert secret not in line
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


@pytest.fixture(scope="module")
def silent_server():
    """A port on 127.0.0.1 that accepts connections and never sends a byte."""
    import socket
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held = []
    stop = threading.Event()

    def accept():
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join(timeout=5)
    for c in held:
        c.close()
    server.close()


def free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("lookup,sources,message", [
    ('"SELECT * FROM everything WHERE email = $1"', None, "$1"),
    ('"SELECT * FROM everything WHERE email = :email"', None, ":email"),
    ('"SELECT * FROM everything WHERE email = \':value\'"', None, ":value"),
    ('"SELECT * FROM everything WHERE email = :value"', "url_env: A\n    host: h", "both url_env and host"),
    ('"SELECT * FROM everything WHERE email = :value"', "host: h\n    user: u", "database"),
    ('"SELECT * FROM everything WHERE email = :value"', "url_env: postgres://u:p@h/db", "environment variable"),
    ('"SELECT * FROM everything WHERE email = :value"', "url_env: A\n    password: secret", "password"),
])
def test_map_errors_of_a_postgres_source(dossier, tmp_path, lookup, sources, message):
    config = map_with(tmp_path, lookup, sources or f"url_env: {URL_VARIABLE}")
    proc = run_env(dossier, "validate", "--config", config)
    line = assert_one_line_error(proc, EX_USAGE, message)
    # the value of a key that must name a variable, or of a key that may not exist, is never echoed
    assert "u:p@h" not in line and not re.search(r"\bsecret\b", line)


def test_casts_and_literals_are_not_parameters(dossier, pg_chinook, tmp_path):
    """`::text` casts, ':value' inside a literal and a $$-quoted string stay as written; the one
    :value outside them is bound."""
    query = ('"SELECT customer_id, email, \':value\' AS literal, $$:value$$ AS dollar FROM customer '
             'WHERE lower(email)::text = :value::text"')
    config = map_with(tmp_path, query)
    out = tmp_path / "out"
    proc = run_env(dossier, "export", "--config", config, "--email", "LUISG@embraer.com.br", "--out", out,
                   "--request-id", "R-1", "--as-of", AS_OF, env={URL_VARIABLE: pg_chinook.url})
    assert proc.returncode == 0, proc.stderr
    (record,) = records_of(out / "dossier-R-1.zip")["db/everything"]
    assert record == {"customer_id": 1, "email": "luisg@embraer.com.br", "literal": ":value", "dollar": ":value"}


def test_postgres_maps_match_the_published_schema(pg_map):
    import jsonschema
    import yaml
    schema = json.loads((CHINOOK.parents[2] / "Schemas" / "datamap.schema.json").read_text(encoding="utf-8"))
    validator = jsonschema.validators.validator_for(schema)(schema)
    text = pg_map.read_text(encoding="utf-8")
    given = f"url_env: {URL_VARIABLE}"
    assert given in text
    for keys in (given, "host: db.internal\n    port: 5433\n    database: crm\n    user: reader\n"
                        "    password_env: CRM_PASSWORD\n    sslmode: verify-full", given + "\n    timeout: 60"):
        assert [e.message for e in validator.iter_errors(yaml.safe_load(text.replace(given, keys)))] == []
    # and what the loader refuses, the schema refuses too
    for bad in ("url_env: A\n    host: h", "host: h\n    user: u", "url_env: A\n    path: x.sqlite", "url_env: A\n    sslmode: maybe",
                "url_env: A\n    timeout: 0"):
        assert list(validator.iter_errors(yaml.safe_load(text.replace(given, bad)))), bad
