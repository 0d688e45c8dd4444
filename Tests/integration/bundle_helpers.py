"""Helpers for test_bundle.py: run `dossier export` with the archive options of issue 4, open every
archive format with independent tools (Python's zipfile and tarfile, bsdtar, unzip, 7-Zip), validate
bundles against the published schemas (Python jsonschema, xmllint), and read index.html with
Python's html.parser."""

from __future__ import annotations

import collections
import json
import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from jsonschema import Draft202012Validator

import oracle  # noqa: E402
from conftest import AS_OF, REPO, id_args, read_archive  # noqa: E402,F401  (re-exported for the tests)

SCHEMAS = REPO / "Schemas"
XSD = SCHEMAS / "dataset.xsd"
BOM = b"\xef\xbb\xbf"
DATA_PATH = re.compile(r"data/([^/]+)/([^/]+)\.(json|csv|xml)")


# --------------------------------------------------------------------------- running the binary

def run_export(dossier, config, identifiers, out: Path, *extra, request_id="BUNDLE-0001", as_of=AS_OF,
               env_extra=None, timeout=300) -> subprocess.CompletedProcess:
    """`dossier export` with any extra options; returns the finished process, whatever its exit."""
    args = [dossier, "export", "--config", str(config), *id_args(identifiers), "--out", str(out)]
    if request_id is not None:
        args += ["--request-id", request_id]
    if as_of is not None:
        args += ["--as-of", as_of]
    args += [str(a) for a in extra]
    env = dict(os.environ)
    env.pop("DOSSIER_LOG_LEVEL", None)
    env.update(env_extra or {})
    return subprocess.run(args, cwd=out, capture_output=True, text=True, timeout=timeout, env=env,
                          stdin=subprocess.DEVNULL)


def stdout_paths(proc: subprocess.CompletedProcess, out: Path) -> list[Path]:
    paths = []
    for line in proc.stdout.splitlines():
        if line.strip():
            p = Path(line.strip())
            paths.append(p if p.is_absolute() else out / p)
    return paths


def export_ok(dossier, config, identifiers, out: Path, *extra, **kw) -> tuple[Path, subprocess.CompletedProcess]:
    """Run an export that must succeed; returns (archive path = the last stdout line, process)."""
    out.mkdir(parents=True, exist_ok=True)
    proc = run_export(dossier, config, identifiers, out, *extra, **kw)
    assert proc.returncode == 0, f"export {' '.join(map(str, extra))} failed ({proc.returncode}): {proc.stderr}"
    paths = stdout_paths(proc, out)
    assert paths, "export printed no archive path"
    assert paths[-1].is_file(), f"the printed archive path does not exist: {paths[-1]}"
    return paths[-1], proc


# --------------------------------------------------------------------------- archives

def tool(name: str, package: str) -> str:
    path = shutil.which(name)
    if not path:
        pytest.fail(f"`{name}` is missing: install the Debian package {package}", pytrace=False)
    return path


def sh(*args, cwd=None, timeout=300) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def bsdtar_list(archive: Path) -> list[str]:
    """Entry names as `bsdtar -tf` lists them (directory entries left out); bsdtar must succeed."""
    proc = sh(tool("bsdtar", "libarchive-tools"), "-tf", archive)
    assert proc.returncode == 0, f"bsdtar -tf {archive.name}: {proc.stderr.decode(errors='replace')}"
    return [n for n in proc.stdout.decode("utf-8").splitlines() if n and not n.endswith("/")]


def read_any(archive: Path) -> dict[str, bytes]:
    """Entry name -> bytes for zip, tar.gz and tar.zst (conftest's reader handles all three)."""
    return read_archive(archive)


def unpack(archive: Path, dest: Path) -> Path:
    """Unpack with bsdtar (any format, not encrypted) into `dest`."""
    dest.mkdir(parents=True, exist_ok=True)
    proc = sh(tool("bsdtar", "libarchive-tools"), "-xf", archive, "-C", dest)
    assert proc.returncode == 0, f"bsdtar -xf {archive.name}: {proc.stderr.decode(errors='replace')}"
    return dest


def files_under(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def seven_zip_test(archive: Path, passphrase: str) -> subprocess.CompletedProcess:
    """`7z t -p<passphrase>` (p7zip-full): tests every entry, which needs the right passphrase."""
    return sh(tool("7z", "p7zip-full"), "t", f"-p{passphrase}", archive, timeout=120)


def seven_zip_extract(archive: Path, passphrase: str, dest: Path) -> dict[str, bytes]:
    dest.mkdir(parents=True, exist_ok=True)
    proc = sh(tool("7z", "p7zip-full"), "x", "-y", f"-p{passphrase}", f"-o{dest}", archive, timeout=120)
    assert proc.returncode == 0, f"7z x {archive.name}: {proc.stdout.decode(errors='replace')[-2000:]}"
    return files_under(dest)


def zip_aes_strengths(archive: Path) -> dict[str, int | None]:
    """Entry -> the AES strength of its WinZip AES extra field (0x9901; 3 = AES-256), None when the
    entry is not AES-encrypted (no encryption flag, or no such field)."""
    import zipfile
    out = {}
    with zipfile.ZipFile(archive) as z:
        for info in z.infolist():
            if info.is_dir():
                continue
            strength = None
            if info.flag_bits & 0x1:
                extra = info.extra
                i = 0
                while i + 4 <= len(extra):
                    hid = int.from_bytes(extra[i:i + 2], "little")
                    size = int.from_bytes(extra[i + 2:i + 4], "little")
                    body = extra[i + 4:i + 4 + size]
                    if hid == 0x9901 and len(body) >= 5 and body[2:4] == b"AE":
                        strength = body[4]
                    i += 4 + size
            out[info.filename] = strength
    return out


# --------------------------------------------------------------------------- schemas

def load_schema(name: str) -> dict:
    path = SCHEMAS / f"{name}.schema.json"
    assert path.is_file(), f"{path} is missing"
    return json.loads(path.read_text(encoding="utf-8"))


def validator(name: str) -> Draft202012Validator:
    schema = load_schema(name)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def schema_errors(v: Draft202012Validator, doc) -> list[str]:
    return [f"at /{'/'.join(map(str, e.absolute_path))}: {e.message[:300]}"
            for e in sorted(v.iter_errors(doc), key=lambda e: list(map(str, e.absolute_path)))]


def schema_for(path: str) -> str:
    if path == "manifest.json":
        return "manifest"
    if path == "information.json":
        return "information"
    assert DATA_PATH.fullmatch(path) and path.endswith(".json"), f"no schema for {path}"
    return "dataset"


def xmllint_schema(paths: list[Path]) -> subprocess.CompletedProcess:
    return sh(tool("xmllint", "libxml2-utils"), "--noout", "--nonet", "--schema", XSD, *paths)


def mixed_content(element: ET.Element, where: str) -> list[str]:
    """<field>s and <item>s that hold text beside child elements (the XSD cannot forbid it)."""
    bad = []
    children = list(element)
    if children:
        texts = [element.text or ""] + [c.tail or "" for c in children]
        if any(t.strip() for t in texts):
            bad.append(where)
        for i, c in enumerate(children):
            bad += mixed_content(c, f"{where}/{c.tag}[{i}]")
    return bad


# --------------------------------------------------------------------------- SHA256SUMS

SUM_LINE = re.compile(r"([0-9a-f]{64})  (.+)")


def parse_sums(body: bytes) -> list[tuple[str, str]]:
    assert body.endswith(b"\n"), "SHA256SUMS does not end with a line end"
    assert b"\r" not in body, "SHA256SUMS has CR line ends"
    out = []
    for line in body.decode("utf-8").split("\n")[:-1]:
        m = SUM_LINE.fullmatch(line)
        assert m, f"SHA256SUMS line is not `<64 hex>  <path>`: {line!r}"
        out.append((m.group(1), m.group(2)))
    return out


# --------------------------------------------------------------------------- index.html

# attributes through which a browser fetches something by itself (not by a click)
FETCHING_ATTRS = {"src", "href", "srcset", "data", "poster", "background", "action", "formaction",
                  "manifest", "codebase", "xlink:href", "imagesrcset", "ping", "longdesc"}
# elements whose href is a link the reader follows by clicking, not a resource
NAVIGATION_TAGS = {"a", "area"}
REMOTE = re.compile(r"^\s*(https?:|ftp:|//|\\\\)", re.I)
CSS_REMOTE = re.compile(r"(url\(\s*['\"]?\s*(https?:|ftp:|//))|(@import\s+['\"]?\s*(https?:|ftp:|//))", re.I)


class Page(HTMLParser):
    """What the tests need of index.html: the <html lang>, the visible text, every tag with its
    attributes, the CSS (style elements and attributes)."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.lang = None
        self.saw_html = False
        self.tags: list[tuple[str, dict]] = []
        self.chunks: list[str] = []
        self.css: list[str] = []
        self._skip = 0
        self._in_style = False
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        a = {k.lower(): (v or "") for k, v in attrs}
        self.tags.append((tag, a))
        if tag == "html" and not self.saw_html:
            self.saw_html = True
            self.lang = a.get("lang")
        if "style" in a:
            self.css.append(a["style"])
        if tag in ("script", "style", "template"):
            self._skip += 1
            self._in_style = tag == "style"

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag in ("script", "style", "template"):
            self.handle_endtag(tag)

    def handle_endtag(self, tag):
        if tag in ("script", "style", "template") and self._skip:
            self._skip -= 1
            self._in_style = False

    def handle_data(self, data):
        if self._in_style:
            self.css.append(data)
        elif not self._skip:
            self.chunks.append(data)

    def text(self, sep: str) -> str:
        return re.sub(r"\s+", " ", sep.join(self.chunks)).strip()

    def shows(self, needle: str) -> bool:
        """True when the visible text holds `needle` (whitespace collapsed), whether the page's
        elements are read with or without a space between them."""
        n = re.sub(r"\s+", " ", needle).strip()
        return n in self.text("") or n in self.text(" ")

    def remote_references(self) -> list[str]:
        """Every reference that would make a browser fetch something from the network."""
        bad = []
        for tag, attrs in self.tags:
            for name, value in attrs.items():
                if name not in FETCHING_ATTRS or (tag in NAVIGATION_TAGS and name in ("href",)):
                    continue
                values = [v.strip().split(" ")[0] for v in value.split(",")] if "srcset" in name else [value]
                if any(REMOTE.match(v) for v in values):
                    bad.append(f"<{tag} {name}={value!r}>")
            if tag == "meta" and attrs.get("http-equiv", "").lower() == "refresh" and \
                    re.search(r"url\s*=\s*(https?:|//)", attrs.get("content", ""), re.I):
                bad.append(f"<meta http-equiv=refresh content={attrs.get('content')!r}>")
        for css in self.css:
            for m in CSS_REMOTE.finditer(css):
                bad.append(f"CSS {m.group(0)!r}")
        return bad

    def local_links(self) -> set[str]:
        """The bundle paths that relative href/src values point at (fragment and query left out)."""
        out = set()
        for _tag, attrs in self.tags:
            for name in ("href", "src"):
                value = attrs.get(name)
                if not value or value.startswith("#"):
                    continue
                parts = urlsplit(value)
                if parts.scheme or parts.netloc:
                    continue
                path = unquote(parts.path)
                while path.startswith("./"):
                    path = path[2:]
                if path:
                    out.add(path)
        return out


# --------------------------------------------------------------------------- portability

def field_spec(ds: dict, path: str):
    """The data map's description of a (flattened) field path: the field itself or its nearest
    described ancestor (`billing` describes `billing.city`), else None."""
    fields = ds.get("fields") or {}
    parts = path.split(".")
    for i in range(len(parts), 0, -1):
        spec = fields.get(".".join(parts[:i]))
        if spec is not None:
            return spec or {}
    return None


def field_portable(ds: dict, path: str) -> bool:
    """Portable: origin (the field's, else the dataset's) subject or observed, not `portable:
    false`, never third_party."""
    spec = field_spec(ds, path)
    if spec is None:
        # An undescribed object that holds described fields stays, for its portable fields.
        inner = [p for p in (ds.get("fields") or {}) if str(p).startswith(path + ".")]
        if inner:
            return any(field_portable(ds, p) for p in inner)
        spec = {}
    origin = spec.get("origin") or ds.get("origin")
    if str(spec.get("third_party", "false")).lower() == "true":
        return False
    if str(spec.get("portable", "true")).lower() == "false":
        return False
    return origin in ("subject", "observed")


def dataset_portable(dmap: dict, ds: dict) -> bool:
    """A dataset takes part in a portability export when at least one of its purposes rests on
    consent or contract and it can hold a portable field: its own origin is subject or observed, or
    (a derived or third-party dataset) the map describes a field of its own as subject or observed
    (the billing address the person gave on an invoice we issued). The field rule then decides
    which fields are exported."""
    bases = {dmap["purposes"][p]["legal_basis"] for p in ds.get("purposes") or []}
    if not bases & {"consent", "contract"}:
        return False
    if ds.get("origin") in ("subject", "observed"):
        return True
    return any(field_portable(ds, path) for path in (ds.get("fields") or {}))


def leaves(record, prefix="") -> dict:
    """Flattened leaves of a record: nested objects become dotted names; lists, scalars and binary
    values ({"base64": ...}) are leaves; empty objects are left out."""
    out = {}
    for k, v in record.items():
        name = prefix + k
        if isinstance(v, dict) and v and set(v) != {"base64"}:
            out.update(leaves(v, name + "."))
        elif isinstance(v, dict) and not v:
            continue
        else:
            out[name] = v
    return out


def canon(value) -> str:
    return oracle.canonical(value)


def portable_multiset(ds: dict, records: list[dict]) -> collections.Counter:
    return collections.Counter(
        canon({p: v for p, v in leaves(r).items() if field_portable(ds, p)}) for r in records)


def export_multiset(records: list[dict]) -> collections.Counter:
    return collections.Counter(canon(leaves(r)) for r in records)
