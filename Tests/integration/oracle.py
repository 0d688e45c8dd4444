"""An independent implementation of Dossier's identity resolution (the interface contract, "Resolution").

Generic over any data map: sqlite sources run their lookup SQL with Python's sqlite3 (read-only),
csv / jsonl / xml sources are read with the standard library. No code is shared with the Swift
implementation; the integration tests compare the archive the `dossier` binary writes with what
this module finds.

    result = resolve("Samples/dossier.yaml", [("email", "anna@example.pl")])
    result.records[("crm", "contacts")]    # list of records (dicts), third-party fields redacted
    result.identifiers                     # {(kind, value): round it was found in, 0 = given}
"""

from __future__ import annotations

import base64
import csv
import json
import os
import sqlite3
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

import phonenumbers
import yaml

WITHHELD = "[withheld: third-party data]"
DEFAULT_MAX_ROUNDS = 5
EEA = set(
    "AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE IS LI NO".split()
)
# Art. 45: the countries and territories with an adequacy decision in force in December 2026 that covers
# a recipient without the data map saying more (the United States needs dpf_certified, so is not here).
ADEQUATE = set("AD AR BR CA CH FO GB GG IL IM JE JP KR NZ UY".split())


# --------------------------------------------------------------------------- the data map

def load_map(path: str) -> dict:
    """The map with every scalar as the text written in the YAML (BaseLoader): `where` values,
    flags and numbers are compared as text, as the contract says."""
    with open(path, encoding="utf-8") as f:
        return yaml.load(f, Loader=yaml.BaseLoader)


def is_true(value) -> bool:
    return str(value) in ("true", "True", "TRUE")


def datasets(dmap: dict):
    """(source id, dataset id, source, dataset) in the map's order."""
    for sid, source in (dmap.get("sources") or {}).items():
        for did, ds in (source.get("datasets") or {}).items():
            yield sid, did, source, ds


def max_rounds(dmap: dict) -> int:
    return int((dmap.get("resolution") or {}).get("max_rounds", DEFAULT_MAX_ROUNDS))


# --------------------------------------------------------------------------- values

def canonical(value) -> str:
    """Canonical JSON; integral floats are written as integers (JSON does not tell 2.0 from 2)."""
    def fix(v):
        if isinstance(v, float) and v.is_integer():
            return int(v)
        if isinstance(v, dict):
            return {k: fix(x) for k, x in v.items()}
        if isinstance(v, list):
            return [fix(x) for x in v]
        return v
    return json.dumps(fix(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def as_text(value):
    """A scalar as text (JSON 17 and CSV "17" are the same); None for null, objects and lists."""
    if value is None or isinstance(value, (dict, list)):
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def normalize(kind: str, value, region: str):
    """The identifier of `kind` that `value` stands for, or None when it stands for none."""
    text = as_text(value)
    if text is None:
        return None
    if kind == "email":
        # lower-cased letter by letter, except where a letter beyond ASCII would become ASCII (a
        # Kelvin sign lower-cases to k: another person's address)
        text = "".join(c.lower() if c.isascii() or not any(x.isascii() for x in c.lower()) else c for c in text.strip())
        return text or None
    if kind == "phone":
        try:
            number = phonenumbers.parse(text, region)
        except phonenumbers.NumberParseException:
            return None
        # Dossier keeps only numbers libphonenumber calls possible (right length for the country).
        if not phonenumbers.is_possible_number(number):
            return None
        e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        # an extension tells apart the people behind one switchboard
        return e164 + (f";ext={number.extension}" if number.extension else "")
    text = text.strip()
    return text or None


_MISSING = object()


def get_path(record, path: str):
    """The value at a dotted path (`billing.city`), or _MISSING."""
    value = record
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return _MISSING
        value = value[part]
    return value


def values_at(record, path: str):
    """The scalar values at a path: a list gives each element."""
    value = get_path(record, path)
    if value is _MISSING or value is None:
        return []
    return value if isinstance(value, list) else [value]


def set_path(record: dict, path: str, new_value) -> None:
    parts = path.split(".")
    for part in parts[:-1]:
        record = record.get(part) if isinstance(record, dict) else None
        if not isinstance(record, dict):
            return
    if isinstance(record, dict) and parts[-1] in record:
        record[parts[-1]] = new_value


# --------------------------------------------------------------------------- readers

def sqlite_value(value):
    if isinstance(value, bytes):
        return {"base64": base64.b64encode(value).decode("ascii")}
    return value


def open_sqlite(path: str, region: str) -> sqlite3.Connection:
    uri = "file:" + os.path.abspath(path) + "?mode=ro"
    conn = sqlite3.connect(uri, uri=True)
    conn.create_function("normalize_email", 1, lambda x: normalize("email", x, region), deterministic=True)
    conn.create_function("normalize_phone", 1, lambda x: normalize("phone", x, region), deterministic=True)
    return conn


def sql_lookup(conn: sqlite3.Connection, sql: str, value: str) -> list[dict]:
    cur = conn.execute(sql, {"value": value})
    names = [d[0] for d in cur.description]
    return [{n: sqlite_value(v) for n, v in zip(names, row)} for row in cur.fetchall()]


def read_csv(path: str, delimiter: str = ",") -> list[dict]:
    with open(path, encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f, delimiter=delimiter, strict=True)
        header = next(reader, None)
        if header is None:
            return []
        rows = []
        for row in reader:
            if not row:
                continue
            if len(row) != len(header):
                raise ValueError(f"{path}:{reader.line_num}: {len(row)} cells, header has {len(header)}")
            rows.append(dict(zip(header, row)))
        return rows


def read_jsonl(path: str) -> list[dict]:
    records = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if line.strip():
                record = json.loads(line)
                if not isinstance(record, dict):
                    raise ValueError(f"{path}:{number}: not a JSON object")
                records.append(record)
    return records


def xml_element(element: ET.Element):
    """Attributes and leaf children as strings, children with children as objects, repeated
    children as lists; a leaf element is its text ("" when empty)."""
    children = list(element)
    if not children and not element.attrib:
        return element.text or ""
    obj: dict = dict(element.attrib)
    if not children:
        # a leaf with attributes: the contract leaves it open; keep both
        obj["#text"] = element.text or ""
        return obj
    tags = [c.tag for c in children]
    for child in children:
        value = xml_element(child)
        if tags.count(child.tag) > 1:
            obj.setdefault(child.tag, []).append(value)
        else:
            obj[child.tag] = value
    return obj


def xml_record_value(element: ET.Element) -> dict:
    """A record element is always an object, even when it has no children."""
    value = xml_element(element)
    if isinstance(value, str):
        return {}
    value.pop("#text", None)
    return value


def read_xml(path: str, record_path: str) -> list[dict]:
    with open(path, "rb") as f:
        head = f.read(4096)
    if b"<!DOCTYPE" in head or b"<!ENTITY" in head:
        raise ValueError(f"{path}: a DTD is refused")
    wanted = [p for p in record_path.split("/") if p]
    stack: list[str] = []
    records = []
    for event, element in ET.iterparse(path, events=("start", "end")):
        if event == "start":
            stack.append(element.tag)
        else:
            if stack == wanted:
                records.append(xml_record_value(element))
                element.clear()
            stack.pop()
    return records


# --------------------------------------------------------------------------- resolution

@dataclass
class Result:
    records: dict = field(default_factory=dict)      # (source, dataset) -> [record], redacted
    identifiers: dict = field(default_factory=dict)  # (kind, value) -> round found (0 = given)
    matched: dict = field(default_factory=dict)      # (kind, value) -> first round it found a record
    finders: dict = field(default_factory=dict)      # (source, dataset, record key) -> {(kind, value): round}
    found_by: dict = field(default_factory=dict)     # (source, dataset) -> [{(kind, value): round}], as records
    rounds: int = 0
    max_rounds: int = DEFAULT_MAX_ROUNDS
    capped: bool = False

    def nonempty(self):
        return [sd for sd, recs in self.records.items() if recs]

    def counts(self):
        return {sd: len(recs) for sd, recs in self.records.items()}


def _where_text(record, path):
    value = get_path(record, path)
    return None if value is _MISSING else as_text(value)


class _Dataset:
    def __init__(self, base: str, region: str, sid, did, source, ds):
        self.sid, self.did, self.ds, self.region = sid, did, ds, region
        self.kind = source["kind"]
        path = ds.get("path") or source.get("path")
        self.path = os.path.join(base, path)
        self.source = source
        self._all = None
        self._conn = None

    def third_party(self):
        return [p for p, f in (self.ds.get("fields") or {}).items() if is_true((f or {}).get("third_party"))]

    def key_of(self, record):
        key = self.ds.get("key")
        if key:
            return canonical([get_path(record, k) if get_path(record, k) is not _MISSING else None for k in key])
        return canonical(record)

    def find(self, kind: str, value: str) -> list[dict]:
        how = self.ds["lookup"][kind]
        if self.kind == "sqlite":
            if self._conn is None:
                self._conn = open_sqlite(self.path, self.region)
            return sql_lookup(self._conn, how, value)
        return [r for r in self.all_records()
                if any(normalize(kind, v, self.region) == value for v in values_at(r, how))]

    def all_records(self):
        if self._all is None:
            if self.kind == "csv":
                records = read_csv(self.path, self.source.get("delimiter", ","))
            elif self.kind == "jsonl":
                records = read_jsonl(self.path)
            elif self.kind == "xml":
                records = read_xml(self.path, self.ds["record"])
            else:
                raise ValueError(f"kind {self.kind} is not supported by the oracle")
            where = self.ds.get("where") or {}
            self._all = [r for r in records
                         if all(_where_text(r, p) == str(v) for p, v in where.items())]
        return self._all

    def yielded(self, record):
        for kind, paths in (self.ds.get("yields") or {}).items():
            for path in paths if isinstance(paths, list) else [paths]:
                for v in values_at(record, path):
                    n = normalize(kind, v, self.region)
                    if n is not None:
                        yield kind, n


def resolve(map_path: str, given: list[tuple[str, str]]) -> Result:
    """Resolve `given` [(kind, raw value)] against the map at `map_path`, per the contract."""
    dmap = load_map(map_path)
    region = dmap["controller"]["default_region"]
    base = os.path.dirname(os.path.abspath(map_path))
    all_ds = [_Dataset(base, region, *t) for t in datasets(dmap)]
    res = Result(max_rounds=max_rounds(dmap))
    found: dict = {(d.sid, d.did): {} for d in all_ds}   # key -> record, unredacted
    for kind, raw in given:
        n = normalize(kind, raw, region)
        if n is not None:
            res.identifiers.setdefault((kind, n), 0)
    looked: set = set()

    def pending():
        return [(d, k, v) for d in all_ds for (k, v) in res.identifiers
                if k in (d.ds.get("lookup") or {}) and (d.sid, d.did, k, v) not in looked]

    for r in range(1, res.max_rounds + 1):
        todo = pending()
        if not todo:
            break
        res.rounds = r
        new_ids = {}
        for d, k, v in todo:
            looked.add((d.sid, d.did, k, v))
            for record in d.find(k, v):
                key = d.key_of(record)
                store = found[(d.sid, d.did)]
                if key not in store:
                    store[key] = record
                    for ident in d.yielded(record):
                        if ident not in res.identifiers and ident not in new_ids:
                            new_ids[ident] = r
                res.matched.setdefault((k, v), r)
                res.finders.setdefault((d.sid, d.did, key), {}).setdefault((k, v), r)
        res.identifiers.update(new_ids)
        if not new_ids:
            break
    res.capped = bool(pending())

    for d in all_ds:
        out, by = [], []
        for key, record in found[(d.sid, d.did)].items():
            record = json.loads(json.dumps(record))  # a deep copy
            for path in d.third_party():
                if get_path(record, path) not in (None, _MISSING):
                    set_path(record, path, WITHHELD)
            out.append(record)
            by.append(res.finders[(d.sid, d.did, key)])
        res.records[(d.sid, d.did)] = out
        res.found_by[(d.sid, d.did)] = by
    return res


def summary(result: Result) -> str:
    lines = [f"rounds={result.rounds} capped={result.capped}"]
    lines += [f"  {s}/{d}: {len(r)}" for (s, d), r in result.records.items()]
    lines += [f"  id {k}={v} (round {r})" for (k, v), r in sorted(result.identifiers.items(), key=lambda x: (x[1], x[0]))]
    return "\n".join(lines)


if __name__ == "__main__":
    import sys
    if len(sys.argv) < 3:
        sys.exit("usage: oracle.py MAP kind=value ...")
    print(summary(resolve(sys.argv[1], [tuple(a.split("=", 1)) for a in sys.argv[2:]])))
