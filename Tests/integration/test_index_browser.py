"""index.html as the person sees it: the sample person's bundle opened in Debian's headless Chromium.

- the rendered DOM (`--dump-dom`) holds her name, her invoice numbers, every heading of the Art. 15
  information in the bundle's language, the supervisory authority and `<html lang=..>`;
- loading the page sends no request anywhere (Chromium's own net log, minus a baseline of the browser's
  background traffic);
- screenshots at phone width and at desktop width are produced (for a person to look at).

Needs the `chromium` package (`apt-get install chromium`); the Makefile installs it. Run from the
repository root:  python -m pytest Tests/integration/test_index_browser.py
The screenshots go to $DOSSIER_SCREENSHOTS when set, else to pytest's temporary folder (the path is
printed; `pytest -s` shows it).
"""

from __future__ import annotations

import html.parser
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import tempfile
import zipfile
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from conftest import REPO, run

ZOFIA = "zofia.wisniewska@example.pl"
REQUEST_ID = "R1"
AS_OF = "2026-01-31T09:00:00Z"
LANGUAGES = ("pl", "en")          # the map's languages; pl is the default (first)
RESOURCES = REPO / "Sources" / "DossierReport" / "Resources"
TEMPLATE = RESOURCES / "index.mustache"

# The h2 section titles of the Art. 15 information in index.mustache (`{{t.section.<key>.title}}`):
# purposes, categories, recipients, retention, origins, automated decisions, rights, complaint,
# withheld (third-party) data, the data, where we searched, files. (`portability` only appears in an
# Art. 20 bundle.)
SECTION_KEYS = ("purposes", "categories", "recipients", "retention", "origins", "automated", "rights",
                "complaint", "withheld", "data", "searched", "files")

# Flags for Debian's chromium (checked with Chromium 156). The launcher /usr/bin/chromium adds its own
# defaults from /etc/chromium.d (among them --enable-remote-extensions, which keeps it from adding
# --disable-background-networking itself, so we pass that flag ourselves: without it the browser
# fetches a spell-check dictionary and, for a page whose language differs from the UI's, the list of
# translation languages from translate.googleapis.com -- --disable-features=Translate alone does not
# stop that).
CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",                      # tests may run as root, in a container
    "--disable-gpu",
    "--disable-features=Translate",
    "--disable-background-networking",
    "--no-first-run",
    "--hide-scrollbars",
)
CHROMIUM_TIMEOUT = 30                    # seconds per browser run (one run takes about 1 s)
SCREEN_WIDTHS = (390, 1200)              # a phone, a desktop window
SCREEN_HEIGHT = 2400
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


# --------------------------------------------------------------------------- running Chromium

@pytest.fixture(scope="session")
def chromium() -> str:
    path = os.environ.get("CHROMIUM") or shutil.which("chromium")
    if not path or not os.access(path, os.X_OK):
        pytest.fail("Chromium is missing: `apt-get install chromium` (Debian's package; the Makefile installs "
                    "it), or point the CHROMIUM environment variable at the binary", pytrace=False)
    return path


def run_chromium(chromium: str, url: str, *args: str) -> subprocess.CompletedProcess:
    """One headless run on `url` with a fresh, temporary profile; requires exit 0."""
    with tempfile.TemporaryDirectory(prefix="dossier-chromium-") as profile:
        cmd = [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args, url]
        # its own session, so that on a timeout the whole browser (renderer, GPU, zygote) is ended
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        try:
            out, err = proc.communicate(timeout=CHROMIUM_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            pytest.fail(f"chromium did not finish within {CHROMIUM_TIMEOUT} s: {' '.join(cmd)}", pytrace=False)
    result = subprocess.CompletedProcess(cmd, proc.returncode, out, err)
    assert result.returncode == 0, \
        f"chromium exited {result.returncode}: {' '.join(cmd)}\n{err.decode(errors='replace')[-3000:]}"
    return result


def dump_dom(chromium: str, url: str, *args: str) -> str:
    dom = run_chromium(chromium, url, "--dump-dom", *args).stdout.decode("utf-8")
    assert dom.strip(), f"chromium dumped an empty DOM for {url}"
    return dom


# --------------------------------------------------------------------------- the bundles

@pytest.fixture(scope="session")
def bundles(dossier, samples_map, tmp_path_factory) -> dict[str, Path]:
    """Language -> the extracted bundle of the sample person (Polish without --language, the map's
    default; English with --language en)."""
    out = {}
    for lang in LANGUAGES:
        folder = tmp_path_factory.mktemp(f"bundle-{lang}")
        args = ["export", "--config", samples_map, "--email", ZOFIA, "--out", folder,
                "--request-id", REQUEST_ID, "--as-of", AS_OF]
        if lang != LANGUAGES[0]:
            args += ["--language", lang]
        proc = run(dossier, *args, cwd=folder)
        assert proc.returncode == 0, f"export ({lang}) failed ({proc.returncode}): {proc.stderr}"
        archive = Path(proc.stdout.splitlines()[-1].strip())
        if not archive.is_absolute():
            archive = folder / archive
        assert archive.name == f"dossier-{REQUEST_ID}.zip", archive
        root = folder / "bundle"
        with zipfile.ZipFile(archive) as z:
            for name in z.namelist():
                assert not name.startswith("/") and ".." not in name.split("/"), f"unsafe entry {name}"
            z.extractall(root)
        assert (root / "index.html").is_file(), f"no index.html in the {lang} bundle"
        out[lang] = root
    return out


@pytest.fixture(scope="session")
def person(samples_map) -> dict:
    """What the page must show, read from the sample sources themselves (not from the bundle)."""
    conn = sqlite3.connect(f"file:{samples_map.parent / 'crm' / 'crm.sqlite'}?mode=ro", uri=True)
    try:
        row = conn.execute("SELECT id, first_name, last_name FROM contacts WHERE lower(email) = ?",
                           (ZOFIA,)).fetchone()
    finally:
        conn.close()
    assert row, f"{ZOFIA} is not in the sample CRM"
    crm_id, first, last = row
    invoices = []
    with open(samples_map.parent / "training" / "events.jsonl", encoding="utf-8") as f:
        for line in f:
            if line.strip():
                event = json.loads(line)
                if event.get("type") == "invoice" and str(event.get("contact_id")) == str(crm_id):
                    invoices.append(event["invoice"])
    assert invoices, f"the sample training platform has no invoice of contact {crm_id}"
    dmap = yaml.safe_load(samples_map.read_text(encoding="utf-8"))
    return {"first_name": first, "last_name": last, "invoices": sorted(invoices),
            "authority": dmap["controller"]["supervisory_authority"]["name"]}


def translations(lang: str) -> dict[str, str]:
    path = RESOURCES / "translations" / f"{lang}.json"
    assert path.is_file(), f"{path} is missing"
    return json.loads(path.read_text(encoding="utf-8"))


# --------------------------------------------------------------------------- reading the DOM

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class Page(html.parser.HTMLParser):
    """The serialised DOM: <html lang>, the text of every h2, the text of every element with an id,
    and the body's whole text."""

    def __init__(self, dom: str):
        super().__init__(convert_charrefs=True)
        self.lang = None
        self.stack: list[tuple[str, str | None]] = []
        self.texts: dict[str, list[str]] = {}      # id -> text pieces inside that element
        self.h2: list[list[str]] = []
        self.body: list[str] = []
        self.in_h2 = False
        self.feed(dom)
        self.close()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "html":
            self.lang = attrs.get("lang")
        if tag in VOID:
            return
        self.stack.append((tag, attrs.get("id")))
        if attrs.get("id"):
            self.texts.setdefault(attrs["id"], [])
        if tag == "h2":
            self.in_h2 = True
            self.h2.append([])

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        while self.stack:
            top, _ = self.stack.pop()
            if top == tag:
                break
        if tag == "h2":
            self.in_h2 = False

    def handle_data(self, data):
        tags = [t for t, _ in self.stack]
        if "script" in tags or "style" in tags or "title" in tags:
            return
        if "body" in tags:
            self.body.append(data)
        if self.in_h2:
            self.h2[-1].append(data)
        for _, ident in self.stack:
            if ident:
                self.texts[ident].append(data)

    @staticmethod
    def norm(pieces) -> str:
        return re.sub(r"\s+", " ", "".join(pieces)).strip()

    def text(self, ident=None) -> str:
        return self.norm(self.body if ident is None else self.texts.get(ident, []))

    def headings(self) -> list[str]:
        return [self.norm(h) for h in self.h2]


def test_template_titles_sections_with_the_expected_keys():
    """The keys this file checks are the ones the template puts in its h2 section titles."""
    template = TEMPLATE.read_text(encoding="utf-8") + "".join(
        p.read_text(encoding="utf-8") for p in sorted((RESOURCES / "partials").glob("*.mustache")))
    for key in SECTION_KEYS:
        assert re.search(r"<h2 id=\"[a-z]+-title\">\{\{t\.section\." + key + r"\.title\}\}</h2>", template), \
            f"index.mustache has no <h2> titled {{{{t.section.{key}.title}}}}"
        for lang in LANGUAGES:
            title = translations(lang).get(f"section.{key}.title")
            assert isinstance(title, str) and title.strip(), f"{lang}.json: no section.{key}.title"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_rendered_page_shows_her_data_and_the_information(lang, chromium, bundles, person):
    index = bundles[lang] / "index.html"
    page = Page(dump_dom(chromium, index.as_uri()))
    text = page.text()
    assert page.lang == lang, f"<html lang={page.lang!r}>, expected {lang!r}"
    assert text, "the rendered page has no text"

    for what in ("first_name", "last_name"):
        assert person[what] in text, f"her {what.replace('_', ' ')} {person[what]!r} is not on the page"
    for invoice in person["invoices"]:
        assert invoice in text, f"her invoice {invoice} is not on the page"

    t = translations(lang)
    headings = page.headings()
    for key in SECTION_KEYS:
        title = re.sub(r"\s+", " ", t[f"section.{key}.title"]).strip()
        assert title in headings, f"section heading {title!r} (section.{key}.title) is not an h2 of the " \
                                  f"rendered page; its h2s: {headings}"
    assert f"section.{SECTION_KEYS[0]}" not in text, "an untranslated key shows on the page"

    assert person["authority"] in page.text("complaint"), \
        f"the supervisory authority {person['authority']!r} is not in the complaint section"
    # the person's name and invoice are in the section that shows her data, not only elsewhere
    data = page.text("data")
    assert person["last_name"] in data and person["invoices"][0] in data, "her data is not in the data section"


# --------------------------------------------------------------------------- no request leaves the page

ALLOWED_SCHEMES = {"file", "data", "blob", "about"}


def load_net_log(path: Path) -> dict:
    assert path.is_file() and path.stat().st_size > 0, f"chromium wrote no net log at {path}"
    body = path.read_text(encoding="utf-8", errors="replace")
    try:
        return json.loads(body)
    except ValueError:
        # a log whose writer was cut short lacks its closing brackets (Chromium documents this)
        return json.loads(body.rstrip().rstrip(",") + "]}")


def requested(log: dict) -> dict[str, str]:
    """URLs the network stack was asked for, with the initiator of the request: URL_REQUEST_START_JOB
    (every URLRequest, WebSockets included) and the other events that name a URL (CORS_REQUEST,
    REQUEST_ALIVE, HTTP_STREAM_JOB_CONTROLLER), plus HOST_RESOLVER_MANAGER_REQUEST, whose `host` is
    `scheme://host` (a preconnect resolves a name without a URLRequest)."""
    names = log["constants"]["logEventTypes"]
    wanted_url = {names[n] for n in ("URL_REQUEST_START_JOB", "CORS_REQUEST", "REQUEST_ALIVE",
                                     "HTTP_STREAM_JOB_CONTROLLER") if n in names}
    assert names.get("URL_REQUEST_START_JOB") in wanted_url, "the net log knows no URL_REQUEST_START_JOB"
    resolve = names.get("HOST_RESOLVER_MANAGER_REQUEST")
    out: dict[str, str] = {}
    for event in log["events"]:
        params = event.get("params") or {}
        if event["type"] in wanted_url:
            for key in ("url", "original_url", "new_location"):
                if isinstance(params.get(key), str) and out.get(params[key], "?") == "?":
                    out[params[key]] = params.get("initiator", "?")
        elif event["type"] == resolve and isinstance(params.get("host"), str):
            out.setdefault(params["host"], "host resolution")
    return out


def key(url: str) -> str:
    """scheme://host:port/path, without query and fragment: the browser's background requests carry a
    fresh nonce in their query (`cup2key=...`) on every run."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def net_log_of(chromium: str, url: str, folder: Path, name: str) -> dict[str, str]:
    path = folder / f"{name}.netlog.json"
    run_chromium(chromium, url, f"--log-net-log={path}", "--net-log-capture-mode=Default", "--dump-dom")
    return requested(load_net_log(path))


@pytest.fixture(scope="session")
def baseline(chromium, tmp_path_factory) -> set[str]:
    """Chromium's own traffic with a page that requests nothing. Even headless and with
    --disable-background-networking, the browser asks Google's servers on its own, whatever the page
    (component updates at update.googleapis.com, the network time at clients2.google.com,
    accounts.google.com/ListAccounts). Those requests are not the page's doing, so the URLs of this
    about:blank run are subtracted from the page's run; what remains was caused by the page."""
    got = net_log_of(chromium, "about:blank", tmp_path_factory.mktemp("netlog-baseline"), "baseline")
    return {key(u) for u in got}


def page_requests(chromium, url: str, folder: Path, name: str, baseline: set[str]) -> dict[str, str]:
    """The requests the page caused. Besides the baseline, requests whose initiator is "not an origin"
    were started by the browser itself, not by any page (the timing of that background traffic varies
    from run to run, so the baseline alone does not catch all of it), and so were the name look-ups of
    their hosts. A page's own request carries its origin ("null" for a file:// page)."""
    got = net_log_of(chromium, url, folder, name)
    internal_hosts = {urlsplit(u).hostname for u, who in got.items() if who == "not an origin"}
    return {u: who for u, who in got.items()
            if key(u) not in baseline and who != "not an origin"
            and not (who == "host resolution" and urlsplit(u).hostname in internal_hosts)}


def leaks(requests: dict[str, str], bundle: Path) -> list[str]:
    """Requests that leave the bundle: any scheme but file/data/blob/about, and file:// outside it.
    (Chromium loads file:// URLs outside the network stack, so they rarely show in the net log at all.)"""
    bad = []
    root = bundle.resolve()
    for url, who in sorted(requests.items()):
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme == "file":
            path = Path(parts.path).resolve()
            if path != root and root not in path.parents:
                bad.append(f"{url} (outside the bundle; initiator {who})")
        elif scheme not in ALLOWED_SCHEMES:
            bad.append(f"{url} (initiator {who})")
    return bad


@pytest.mark.parametrize("lang", LANGUAGES)
def test_no_request_leaves_the_page(lang, chromium, bundles, baseline, tmp_path):
    index = bundles[lang] / "index.html"
    requests = page_requests(chromium, index.as_uri(), tmp_path, f"index-{lang}", baseline)
    bad = leaks(requests, bundles[lang])
    assert not bad, "opening index.html requests:\n  " + "\n  ".join(bad)


def test_net_log_check_sees_a_page_that_phones_home(chromium, baseline, tmp_path):
    """The check above can fail: a page with an external style sheet, image, preconnect and WebSocket
    is caught (nothing needs to answer: the attempt is logged)."""
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "index.html").write_text(
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<link rel="stylesheet" href="https://cdn.example.com/style.css">'
        '<link rel="preconnect" href="https://preconnect.example.org"></head>'
        '<body><p>Zofia</p><img src="http://tracker.example.net/pixel.gif" alt=""><img src="local.png" alt="">'
        '<script>try { new WebSocket("ws://ws.example.org/live"); } catch (e) {}</script></body></html>',
        encoding="utf-8")
    requests = page_requests(chromium, (bundle / "index.html").as_uri(), tmp_path, "phones-home", baseline)
    bad = " ".join(leaks(requests, bundle))
    for url in ("https://cdn.example.com/style.css", "http://tracker.example.net/pixel.gif",
                "ws://ws.example.org/live", "preconnect.example.org"):
        assert url in bad, f"the net log check missed {url}; it found: {bad or 'nothing'}"
    assert "local.png" not in bad


# --------------------------------------------------------------------------- screenshots

@pytest.fixture(scope="session")
def shots(tmp_path_factory) -> Path:
    folder = os.environ.get("DOSSIER_SCREENSHOTS")
    if folder:
        path = Path(folder).resolve()
        path.mkdir(parents=True, exist_ok=True)
        return path
    return tmp_path_factory.mktemp("screenshots")


@pytest.mark.parametrize("width", SCREEN_WIDTHS)
@pytest.mark.parametrize("lang", LANGUAGES)
def test_screenshot(lang, width, chromium, bundles, shots):
    """Produced for a person to look at; the test only checks that it is a PNG."""
    png = shots / f"index-{lang}-{width}.png"
    if png.exists():
        png.unlink()
    run_chromium(chromium, (bundles[lang] / "index.html").as_uri(),
                 f"--window-size={width},{SCREEN_HEIGHT}", f"--screenshot={png}")
    assert png.is_file(), f"chromium wrote no screenshot at {png}"
    head = png.read_bytes()[:8]
    assert png.stat().st_size > len(PNG_SIGNATURE) and head == PNG_SIGNATURE, f"{png} is not a PNG"
    print(f"screenshot: {png}")


# --------------------------------------------------------------------------- what the person reads first (issue 12)

# The sections of <main>, in the order the person meets them: the summary, the contents, the data,
# then the information the law requires, then where we looked and the files.
MAIN_ORDER = ("summary", "toc", "portability", "data", "withheld", "purposes", "categories", "recipients",
              "retention", "origins", "automated", "rights", "complaint", "searched", "files")


def plural(lang: str, n: int, forms: dict[str, str]) -> str:
    """The translation files' plural rule, written again: Polish 2-4 (not 12-14) apart from 5 and more."""
    if n == 1:
        return forms["one"]
    if lang == "pl" and 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        return forms["few"]
    return forms["many"]


def words(text: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", text))).strip()


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_page_starts_with_a_summary_of_who_holds_what_then_the_data(lang, chromium, bundles, samples_map):
    dom = dump_dom(chromium, (bundles[lang] / "index.html").as_uri())
    page = Page(dom)
    ids = [i for i in page.texts if i in MAIN_ORDER]
    assert ids == [i for i in MAIN_ORDER if i in ids], f"sections out of order: {ids}"
    assert ids[:3] == ["summary", "toc", "data"], ids

    # Every system that holds records, with their number and datasets, in the summary, linking to its
    # first table; counted here from the manifest and the map.
    t = translations(lang)
    manifest = json.loads((bundles[lang] / "manifest.json").read_text(encoding="utf-8"))
    dmap = yaml.safe_load(samples_map.read_text(encoding="utf-8"))
    per_source: dict[str, list[int]] = {}
    for d in manifest["datasets"]:
        if d["count"]:
            per_source.setdefault(d["source"], []).append(d["count"])
    summary = page.text("summary")
    for source, counts in per_source.items():
        title = dmap["sources"][source].get("title", source)
        title = title.get(lang, next(iter(title.values()))) if isinstance(title, dict) else title
        n = sum(counts)
        records = plural(lang, n, {f: t[f"records.{f}"] for f in ("one", "few", "many")}).replace("{n}", str(n))
        line = plural(lang, len(counts), {f: t[f"records.in_datasets.{f}"] for f in ("one", "few", "many")}) \
            .replace("{records}", records).replace("{n}", str(len(counts)))
        assert f"{title}: {line}" in summary, f"{title}: {line!r} is not in the summary: {summary}"
    ids_on_page = set(re.findall(r'\sid="([^"]+)"', dom))
    for target in re.findall(r'href="#([^"]+)"', dom):
        assert target in ids_on_page, f"a link to #{target}, which is not on the page"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_column_titles_are_words_and_markers_are_in_the_page_language(lang, chromium, bundles):
    dom = dump_dom(chromium, (bundles[lang] / "index.html").as_uri())
    labels = [words(m) for m in re.findall(r'<th scope="col"><div class="v">(.*?)(?:<span class="raw">|</div>)', dom)]
    assert labels, "no column titles"
    raw = [x for x in labels if re.fullmatch(r"[a-z0-9]+(?:[_.][a-z0-9]+)+|[A-Z0-9]+(?:_[A-Z0-9]+)+", x)]
    assert not raw, f"column titles that are raw names: {raw}"
    # every cell carries its column's title, for the stacked layout of wide tables and phones
    assert re.search(r'<td data-label="[^"]+"><div class="v">', dom)
    data = Page(dom).text("data")
    t = translations(lang)
    if "withheld" in Page(dom).texts:
        assert t["marker.withheld_third_party"] in data
        if lang != "en":
            assert "[withheld: third-party data]" not in data, "the English marker on a page in another language"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_origins_name_each_source_once_and_each_dataset_once_in_it(lang, chromium, bundles):
    dom = dump_dom(chromium, (bundles[lang] / "index.html").as_uri())
    section = dom[dom.index('<section id="origins"'):]
    section = section[:section.index("</section>")]
    cards = section.split('<span class="item-title">')[1:]
    assert cards, "no origin other than the person in the sample, or the section changed shape"
    seen = set()
    for card in cards:
        title = words(card[:card.index("</span>")])
        origin_from = re.search(r"<dd>(.*?)</dd>", card)
        key = (title, words(origin_from.group(1)) if origin_from and "<ul" not in origin_from.group(1) else None)
        assert key not in seen, f"the origin {key} has two cards"
        seen.add(key)
        only = f" ({translations(lang)['section.origins.fields']}:"
        datasets = [words(li).split(only)[0] for li in re.findall(r"<li>(.*?)</li>", card[card.index('<ul class="plain">'):])]
        assert datasets and len(datasets) == len(set(datasets)), f"{key}: a dataset twice: {datasets}"


def test_the_page_prints(chromium, bundles, shots):
    """Printed by headless Chromium to PDF (for a person to look at): several pages, the text there."""
    pdf = shots / "index-pl-print.pdf"
    if pdf.exists():
        pdf.unlink()
    run_chromium(chromium, (bundles["pl"] / "index.html").as_uri(), f"--print-to-pdf={pdf}", "--no-pdf-header-footer")
    body = pdf.read_bytes()
    assert body.startswith(b"%PDF-"), f"{pdf} is not a PDF"
    pages = len(re.findall(rb"/Type\s*/Page[^s]", body))
    assert pages >= 2, f"{pages} page(s)"
    print(f"print: {pdf} ({pages} pages)")
