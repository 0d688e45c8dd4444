"""No leaks through file modes (issue 11, item 5): whatever the umask (here 000, the worst), every
file Dossier creates (archives, the ledger and its journal files, lookup indexes, the batch report
and journal, review folders, temporary files) is readable by its owner only, and every folder it
creates is 0700."""
from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

from ledger_helpers import Ledger, make_samples_copy

ZOFIA = "zofia.wisniewska@example.pl"


def run_umask0(argv, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in argv], cwd=cwd, capture_output=True, text=True, timeout=300,
                          preexec_fn=lambda: os.umask(0))


def open_to_others(root: Path) -> list[str]:
    """Every file or folder under root (root included) that grants anything to group or others."""
    found = []
    for path in [root, *root.rglob("*")]:
        mode = stat.S_IMODE(path.lstat().st_mode)
        if mode & 0o077:
            found.append(f"{path.relative_to(root.parent)} {oct(mode)}")
    return found


def test_everything_created_is_private_under_umask_000(dossier, tmp_path):
    map_path = make_samples_copy(tmp_path / "samples")
    root = map_path.parent
    made = []

    # an ad-hoc export into a folder it creates
    out = tmp_path / "export-out"
    proc = run_umask0([dossier, "export", "--config", map_path, "--email", ZOFIA, "--out", out], root)
    assert proc.returncode == 0, proc.stderr
    made.append(out)

    # lookup indexes
    index = tmp_path / "indexes"
    proc = run_umask0([dossier, "index", "--config", map_path, "--index-dir", index], root)
    assert proc.returncode == 0, proc.stderr
    assert any(index.iterdir())
    made.append(index)

    # a batch: archives, report, journal
    manifest = tmp_path / "people.csv"
    manifest.write_text(f"request_id,email\nB-1,{ZOFIA}\nB-2,nobody@example.pl\n", encoding="utf-8")
    batch_out = tmp_path / "batch-out"
    proc = run_umask0([dossier, "batch", "--config", map_path, "--requests", manifest, "--out", batch_out], root)
    assert proc.returncode == 0, proc.stderr
    made.append(batch_out)

    # the ledger: its file, its archives, a review folder
    ledger = Ledger(dossier, map_path)
    def request(*args):
        proc = run_umask0(ledger.argv("request", *args), root)
        assert proc.returncode == 0, proc.stderr
        return proc
    rid = request("open", "--kind", "access", "--email", ZOFIA, "--received", "2026-11-02", "--today", "2026-11-02").stdout.split()[-1]
    request("verify", rid, "--method", "reply from the registered address", "--by", "A. Nowak", "--today", "2026-11-02")
    request("review", rid, "--today", "2026-11-02")
    request("fulfil", rid, "--today", "2026-11-03")
    made.append(ledger.path.parent)

    problems = [p for folder in made for p in open_to_others(folder)]
    assert problems == [], "created with modes open to others:\n" + "\n".join(problems)
