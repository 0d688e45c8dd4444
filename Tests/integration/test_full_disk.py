"""A full disk (issue 11, item 4), made with a file-size limit (RLIMIT_FSIZE, SIGXFSZ ignored: every
write past the limit fails with EFBIG, as on a full disk): an export, a batch and a ledger delivery
each fail in one sentence (exit 74, or 65 for a batch whose requests failed), leave no partial
archive, no staging folder and no delivery row, and work once there is room again. The ledger is
PostgreSQL, whose files the limit does not touch (the server is not a child of Dossier)."""
from __future__ import annotations

import os
import resource
import signal
import subprocess
import zipfile
from pathlib import Path

from conftest import SAMPLES_MAP, assert_one_line_error
from ledger_helpers import Ledger, make_samples_copy

ZOFIA = "zofia.wisniewska@example.pl"
LIMIT = 48 * 1024


def limited():
    resource.setrlimit(resource.RLIMIT_FSIZE, (LIMIT, LIMIT))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


def run_limited(argv, cwd=None, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in argv], cwd=cwd, capture_output=True, text=True, timeout=300,
                          preexec_fn=limited, env=env)


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*")
                  if p.name.endswith(".partial") or p.name.startswith(".dossier-staging-")) if folder.exists() else []


def test_an_export_on_a_full_disk(dossier, tmp_path):
    out = tmp_path / "out"
    proc = run_limited([dossier, "export", "--config", SAMPLES_MAP, "--email", ZOFIA, "--out", out, "--request-id", "FULL-1"])
    assert_one_line_error(proc, 74)
    assert leftovers(out) == [] and not any(p.is_file() for p in out.iterdir())
    proc = subprocess.run([dossier, "export", "--config", SAMPLES_MAP, "--email", ZOFIA, "--out", out, "--request-id", "FULL-1"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr


def test_a_batch_on_a_full_disk(dossier, tmp_path):
    manifest = tmp_path / "people.csv"
    manifest.write_text(f"request_id,email\nF-1,{ZOFIA}\nF-2,anna.backer@example.pl\n", encoding="utf-8")
    out = tmp_path / "out"
    proc = run_limited([dossier, "batch", "--config", SAMPLES_MAP, "--requests", manifest, "--out", out])
    assert proc.returncode in (65, 74), proc.stderr
    assert "Traceback" not in proc.stderr and "Fatal error" not in proc.stderr
    assert leftovers(out) == []
    # Zofia's bundle does not fit; a small one may: whatever was written is whole
    assert not (out / "dossier-F-1.zip").exists(), "an archive was written on a full disk"
    for archive in out.glob("dossier-*.zip"):
        with zipfile.ZipFile(archive) as z:
            assert z.testzip() is None
    proc = subprocess.run([dossier, "batch", "--config", SAMPLES_MAP, "--requests", manifest, "--out", out],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in out.glob("dossier-*.zip")) == ["dossier-F-1.zip", "dossier-F-2.zip"]


def test_a_delivery_on_a_full_disk(dossier, tmp_path, pg_ledger_database):
    ledger = Ledger(dossier, make_samples_copy(tmp_path / "samples", backend="postgres"), "postgres", pg_ledger_database())
    rid, _ = ledger.open([("email", ZOFIA)], "2026-11-02")
    ledger.verify(rid, "2026-11-02")
    proc = run_limited(ledger.argv("request", "fulfil", rid, "--today", "2026-11-03"), cwd=ledger.root, env=ledger.env())
    assert_one_line_error(proc, 74)
    assert ledger.show(rid)["deliveries"] == []
    assert leftovers(ledger.archives) == [] and not [n for n in ledger.archive_names() if n.startswith("dossier-")]
    assert ledger.audit("verify").returncode == 0
    archive = ledger.fulfil(rid, "2026-11-03")      # with room again: copy 1, once
    assert [d["copy"] for d in ledger.show(rid)["deliveries"]] == [1] and archive.exists()
