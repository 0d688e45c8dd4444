"""`kind: http` (issue 10, item 1): a paged JSON API as a source, against a server these tests start
on 127.0.0.1: the identifier percent-encoded into the query, a bearer token from the environment,
pages by next link, cursor and page number, retries on 429/5xx honouring Retry-After, a time limit,
and slow, failing and malicious responses (a 2 GB body, a redirect to another host, invalid JSON,
refused credentials) each one sentence (exit 66) with no archive."""
from __future__ import annotations

import json
import os
import subprocess
import textwrap
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import yaml

import pytest

from conftest import MINI_MAP, assert_one_line_error, build_mini, data_files, read_archive, run

ANNA = "anna@example.pl"
TOKEN = "t0ken/with+odd=chars"
EX_NOINPUT = 66

PEOPLE = [{"id": i, "email": ANNA if i % 2 else "other@example.pl", "course": f"Course {i}", "score": 10 ** 20 + i}
          for i in range(1, 12)]


class API(BaseHTTPRequestHandler):
    calls: list = []
    flaky: dict = {}

    def log_message(self, *args):  # quiet
        pass

    def reply(self, status, body=b"", headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        url = urlparse(self.path)
        q = {k: v[0] for k, v in parse_qs(url.query).items()}
        API.calls.append((url.path, q, self.headers.get("Authorization")))
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            return self.reply(401, b'{"error": "no"}')
        mine = [p for p in PEOPLE if p["email"] == q.get("email")]
        if url.path == "/next":
            start = int(q.get("from", "0"))
            page = mine[start:start + 2]
            nxt = f"/next?email={q['email']}&from={start + 2}" if start + 2 < len(mine) else None
            return self.reply(200, json.dumps({"data": {"items": page}, "links": {"next": nxt}}).encode())
        if url.path == "/cursor":
            start = int(q.get("c", "0"))
            page = mine[start:start + 4]
            return self.reply(200, json.dumps({"items": page, "cursor": str(start + 4) if start + 4 < len(mine) else ""}).encode())
        if url.path == "/pages":
            n = int(q.get("page", "1"))
            return self.reply(200, json.dumps(mine[(n - 1) * 3:n * 3]).encode())
        if url.path == "/flaky":
            key = q.get("email")
            API.flaky[key] = API.flaky.get(key, 0) + 1
            if API.flaky[key] == 1:
                return self.reply(429, b"slow down", [("Retry-After", "1")])
            if API.flaky[key] == 2:
                return self.reply(503, b"busy")
            return self.reply(200, json.dumps({"items": mine}).encode())
        if url.path == "/all":       # an API that cannot filter: every record, four a page
            start = int(q.get("from", "0"))
            nxt = f"/all?from={start + 4}" if start + 4 < len(PEOPLE) else None
            return self.reply(200, json.dumps({"data": PEOPLE[start:start + 4], "next": nxt}).encode())
        if url.path == "/down":
            return self.reply(500, b"down")
        if url.path == "/slow":
            time.sleep(4)
            return self.reply(200, b'{"items": []}')
        if url.path == "/huge":
            self.send_response(200)
            self.send_header("Content-Length", str(2 * 1024 ** 3))
            self.end_headers()
            chunk = b" " * (1 << 20)
            try:
                for _ in range(2048):
                    self.wfile.write(chunk)
            except (BrokenPipeError, ConnectionResetError):
                pass
            return
        if url.path == "/elsewhere":
            return self.reply(302, b"", [("Location", "http://127.0.0.2:9/steal")])
        if url.path == "/invalid":
            return self.reply(200, b"{not json")
        return self.reply(404, b"{}")


@pytest.fixture(scope="module")
def api():
    server = ThreadingHTTPServer(("127.0.0.1", 0), API)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def http_map(tmp_path, api, lookup, extra: dict, timeout=10):
    lines = [
        "lms:", "  kind: http", f"  url: {api}/", "  token_env: LMS_API_TOKEN", f"  timeout: {timeout}",
        "  datasets:", "    courses:", "      key: [id]", f'      lookup: {{ email: "{lookup}" }}',
        *[f"      {k}: {v}" for k, v in extra.items()],
        "      purposes: [service]", "      retention: { period: P1Y }", "      origin: subject",
    ]
    block = "".join("  " + line + "\n" for line in lines)
    return build_mini(tmp_path / "m", map_text=MINI_MAP.replace("\nsources:\n", "\nsources:\n" + block, 1))


def export(dossier, config, out, token=TOKEN):
    env = dict(os.environ, LMS_API_TOKEN=token)
    return subprocess.run([dossier, "export", "--config", config, "--email", ANNA, "--out", out, "--request-id", "R1",
                           "--as-of", "2026-12-06T10:00:00Z"], capture_output=True, text=True, timeout=120, env=env)


def courses(proc) -> list[dict]:
    assert proc.returncode == 0, proc.stderr
    entries = read_archive(Path(proc.stdout.strip().splitlines()[-1]))
    return json.loads(data_files(entries)[("lms", "courses")]["json"])["records"]


@pytest.mark.parametrize("lookup,extra", [
    ("/next?email={value}", {"records": "data.items", "next": "links.next"}),
    ("/cursor?email={value}", {"records": "items", "cursor": "cursor", "cursor_param": "c"}),
    ("/pages?email={value}", {"records": "'.'", "page_param": "page"}),
])
def test_every_page_of_every_paging_style(dossier, api, tmp_path, lookup, extra):
    config = http_map(tmp_path, api, lookup, extra)
    API.calls.clear()
    got = courses(export(dossier, config, tmp_path / "out"))
    assert [r["id"] for r in got] == [1, 3, 5, 7, 9, 11]
    assert all(r["email"] == ANNA for r in got)
    assert b"100000000000000000001" in json.dumps(got).encode()  # a number beyond any binary type, as written
    # the value bound into the query, the token sent
    assert API.calls and all(q.get("email") == ANNA and auth == f"Bearer {TOKEN}" for _, q, auth in API.calls)


def test_retries_on_429_and_503_honouring_retry_after(dossier, api, tmp_path):
    config = http_map(tmp_path, api, "/flaky?email={value}", {"records": "items"})
    API.flaky.clear()
    started = time.monotonic()
    got = courses(export(dossier, config, tmp_path / "out"))
    assert [r["id"] for r in got] == [1, 3, 5, 7, 9, 11]
    assert API.flaky[ANNA] == 3
    assert time.monotonic() - started >= 1.0, "Retry-After: 1 was not waited for"


@pytest.mark.parametrize("path,must", [
    ("/down?email={value}", "the API answered 500 Internal Server Error 5 times; giving up"),
    ("/slow?email={value}", "did not answer within 2 s"),
    ("/huge?email={value}", "a response is larger than 64 MiB; stopped"),
    ("/elsewhere?email={value}", "a redirect leads to another host (127.0.0.2); refused"),
    ("/invalid?email={value}", "the response is not JSON"),
    ("/missing?email={value}", "the API answered 404 Not Found"),
])
def test_failing_and_malicious_responses(dossier, api, tmp_path, path, must):
    config = http_map(tmp_path, api, path, {"records": "items"}, timeout=2)
    out = tmp_path / "out"
    started = time.monotonic()
    proc = export(dossier, config, out)
    assert time.monotonic() - started < 60
    assert_one_line_error(proc, EX_NOINPUT, "source 'lms', dataset 'courses'", must)
    assert not out.exists() or list(out.iterdir()) == []
    assert TOKEN not in proc.stderr


def test_refused_credentials_and_a_missing_token(dossier, api, tmp_path):
    config = http_map(tmp_path, api, "/next?email={value}", {"records": "data.items", "next": "links.next"})
    assert_one_line_error(export(dossier, config, tmp_path / "o1", token="wrong"), EX_NOINPUT,
                          "the API refused the credentials (401 Unauthorized)")
    env = {k: v for k, v in os.environ.items() if k != "LMS_API_TOKEN"}
    proc = subprocess.run([dossier, "export", "--config", config, "--email", ANNA, "--out", tmp_path / "o2"],
                          capture_output=True, text=True, timeout=60, env=env)
    assert_one_line_error(proc, EX_NOINPUT, "LMS_API_TOKEN", "is not set")


@pytest.mark.parametrize("replace,must", [
    (("url: http://127.0.0.1", "url: http://example.com"), "url must use https"),
    (("token_env: LMS_API_TOKEN", "token_env: abc def"), "names an environment variable"),
    (('lookup: { email: "/next?email={value}" }', 'lookup: { email: "next" }'), "a path under the source's url"),
    (('lookup: { email: "/next?email={value}" }', 'lookup: { email: "/next" }'), "must hold {value}"),
    (("records: data.items", "x-records: data.items"), "needs records"),
    (("next: links.next", "next: links.next\n        page_param: page"), "pages one way"),
])
def test_map_errors(dossier, api, tmp_path, replace, must):
    config = http_map(tmp_path, api, "/next?email={value}", {"records": "data.items", "next": "links.next"})
    text = config.read_text(encoding="utf-8")
    assert replace[0] in text, replace[0]
    config.write_text(text.replace(replace[0], replace[1]), encoding="utf-8")
    assert_one_line_error(run(dossier, "validate", "--config", config), 64, must)


def listing_map(tmp_path, api):
    """The courses read from /all, an API that cannot filter: `list:` with the lookup a record field."""
    config = http_map(tmp_path, api, "/next?email={value}", {"records": "data", "next": "next"})
    text = config.read_text(encoding="utf-8").replace('lookup: { email: "/next?email={value}" }',
                                                      'list: /all\n        lookup: { email: email }')
    config.write_text(text, encoding="utf-8")
    return config


def test_an_api_that_cannot_filter_is_read_once_per_run(dossier, api, tmp_path):
    config = listing_map(tmp_path, api)
    API.calls.clear()
    got = courses(export(dossier, config, tmp_path / "out"))
    assert [r["id"] for r in got] == [1, 3, 5, 7, 9, 11]
    assert b"100000000000000000001" in json.dumps(got).encode()   # numbers as written, through the spool
    assert [(p, q) for p, q, _ in API.calls] == [("/all", {}), ("/all", {"from": "4"}), ("/all", {"from": "8"})]
    # the same records as the API that filters gives
    filtered = courses(export(dossier, http_map(tmp_path / "f", api, "/next?email={value}",
                                                {"records": "data.items", "next": "links.next"}), tmp_path / "out2"))
    assert got == filtered

    # a batch of three people reads the list once, not once per person
    manifest = tmp_path / "people.csv"
    manifest.write_text("request_id,email\nB-1,anna@example.pl\nB-2,other@example.pl\nB-3,nobody@example.pl\n", encoding="utf-8")
    API.calls.clear()
    env = dict(os.environ, LMS_API_TOKEN=TOKEN)
    proc = subprocess.run([dossier, "batch", "--config", config, "--requests", manifest, "--out", tmp_path / "batch",
                           "--as-of", "2026-12-06T10:00:00Z", "--jobs", "2"], capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr
    assert len(API.calls) == 3
    counts = {}
    for line in (tmp_path / "batch" / "report.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        manifest_json = json.loads(read_archive(Path(row["archive"]))["manifest.json"])
        counts[row["request_id"]] = {d["source"] + "/" + d["dataset"]: d["count"] for d in manifest_json["datasets"]}
    assert [counts[r]["lms/courses"] for r in ("B-1", "B-2", "B-3")] == [6, 5, 0]
    # nothing of the list is left behind
    assert not [p for p in Path(os.environ.get("TMPDIR", "/tmp")).glob("dossier-http-*")]


@pytest.mark.parametrize("replace,must", [
    (("lookup: { email: email }", 'lookup: { email: "/all?email={value}" }'), "its lookup names the field of a record"),
    (("list: /all", "list: /all?email={value}"), "no {value}"),
    (("list: /all", "list: all"), "the path under the source's url"),
])
def test_list_map_errors(dossier, api, tmp_path, replace, must):
    config = listing_map(tmp_path, api)
    text = config.read_text(encoding="utf-8")
    assert replace[0] in text, replace[0]
    config.write_text(text.replace(replace[0], replace[1]), encoding="utf-8")
    assert_one_line_error(run(dossier, "validate", "--config", config), 64, must)


def test_http_maps_match_the_published_schema(api, tmp_path):
    """The keys of an http source and its datasets are in Schemas/datamap.schema.json: a map Dossier
    accepts is one the schema accepts (they were missing from it)."""
    import jsonschema
    import yaml
    schema = json.loads((Path(__file__).resolve().parents[2] / "Schemas" / "datamap.schema.json").read_text(encoding="utf-8"))
    validator = jsonschema.validators.validator_for(schema)(schema)
    for lookup, extra in [("/next?email={value}", {"records": "data.items", "next": "links.next"}),
                          ("/cursor?email={value}", {"records": "items", "cursor": "cursor", "cursor_param": "c"}),
                          ("/pages?email={value}", {"records": ".", "page_param": "page"}),
                          ("/search", {"records": "items", "method": "POST", "body": '\'{"email": "{value}"}\''}),
                          ("email", {"records": "data", "list": "/recipients"})]:
        config = http_map(tmp_path / str(abs(hash(lookup))), api, lookup, extra)
        assert [e.message for e in validator.iter_errors(yaml.safe_load(config.read_text(encoding="utf-8")))] == [], lookup
