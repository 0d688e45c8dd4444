"""No personal data in the logs (issue 11, item 5): a whole batch over the samples, with a good
and a bad request, at debug log level, through index building and every source; then nothing of any
person appears on stderr: no e-mail address, no phone number, no name, no value of a record the
bundles hold (phone numbers among them)."""
from __future__ import annotations

import csv
import json
import os
import re
import sqlite3
import subprocess

from conftest import SAMPLES_MAP, read_archive

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")


def test_a_debug_batch_logs_nothing_of_any_person(dossier, tmp_path):
    with open(SAMPLES_MAP.parent / "mailing" / "subscribers.csv", newline="", encoding="utf-8") as f:
        emails = [row["Email Address"] for row in csv.DictReader(f)][:12]
    manifest = tmp_path / "people.csv"
    manifest.write_text("request_id,email\n" + "".join(f"L-{i},{e}\n" for i, e in enumerate(emails))
                        + "L-bad,not-an-address\n", encoding="utf-8")
    out = tmp_path / "out"
    env = {**os.environ, "DOSSIER_LOG_LEVEL": "debug"}
    proc = subprocess.run([dossier, "batch", "--config", SAMPLES_MAP, "--requests", manifest, "--out", out,
                           "--index-dir", tmp_path / "index", "--jobs", "2"],
                          capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 65, proc.stderr          # the bad row fails alone
    log = proc.stderr
    assert "debug" in log.lower() or "info" in log.lower(), "nothing was logged: the test would prove nothing"

    # what the bundles hold: every scalar value of every record of every good request
    values: set[str] = set()
    for line in (out / "report.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if not row.get("archive"):
            continue
        for name, body in read_archive(out / row["archive"]).items():
            if name.startswith("data/") and name.endswith(".json"):
                for record in json.loads(body)["records"]:
                    stack = [record]
                    while stack:
                        v = stack.pop()
                        if isinstance(v, dict):
                            stack.extend(v.values())
                        elif isinstance(v, list):
                            stack.extend(v)
                        elif isinstance(v, str) and len(v) >= 6 and not v.isdigit():
                            values.add(v)
    assert len(values) > 50, "the bundles hold too little to check against"

    conn = sqlite3.connect(SAMPLES_MAP.parent / "crm" / "crm.sqlite")
    names = {n for (n,) in conn.execute("SELECT first_name || ' ' || last_name FROM contacts")}
    conn.close()

    found = [m.group(0) for m in EMAIL.finditer(log)]
    assert found == [], f"e-mail addresses in the log: {found[:5]}"
    assert not [n for n in names if n in log], "a person's name is in the log"
    leaked = sorted(v for v in values if v in log)
    assert leaked == [], f"values of records in the log: {leaked[:5]}"
