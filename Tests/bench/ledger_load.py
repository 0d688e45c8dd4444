"""A ledger under load (`make bench`, issue 11 item 6): BENCH_REQUESTS requests (default 100,000)
opened in a fresh SQLite ledger with `request import`, those of every third file of 10,000 verified, then how long the
officer's everyday reads take on it: the whole list, the overdue list, the due-within-7-days list,
one request, and `audit verify` over the whole hash chain. Prints a Markdown table with the targets
and whether each is met.

    .build-venv/bin/python Tests/bench/ledger_load.py [--dossier BIN] [--requests N] [--out DIR]
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "Tests" / "integration"))
from ledger_helpers import make_samples_copy  # noqa: E402

# The reads an officer runs every day, and how long each may take on the loaded ledger.
TARGETS = {
    "request list --json (every request)": 5.0,
    "request list --overdue --json": 1.0,
    "request list --due-within 7d --json": 1.0,
    "request show ID --json": 0.2,
    "audit verify": 5.0,
}


def run(argv, **kw) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(a) for a in argv], capture_output=True, text=True, **kw)
    if proc.returncode not in (0, 65):
        sys.exit(f"bench: {' '.join(map(str, argv[:4]))} failed ({proc.returncode}): {proc.stderr.strip()[:300]}")
    return proc


def timed(argv, repeat=3) -> float:
    """The median wall time of `repeat` runs, in seconds. The output goes to /dev/null: what is
    timed is Dossier writing it, not this script reading 80 MB of it through a pipe (a third
    more at 100,000 requests)."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        proc = subprocess.run([str(a) for a in argv], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        times.append(time.perf_counter() - started)
        if proc.returncode not in (0, 65):
            sys.exit(f"bench: {' '.join(map(str, argv[:4]))} failed ({proc.returncode}): {proc.stderr.strip()[:300]}")
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dossier", default=str(REPO / ".build" / "release" / "dossier"))
    parser.add_argument("--requests", type=int, default=int(os.environ.get("BENCH_REQUESTS", "100000")))
    parser.add_argument("--out", default=str(REPO / ".build-bench" / "ledger-load"))
    args = parser.parse_args()
    out = Path(args.out)
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    map_path = make_samples_copy(out / "samples")
    base = [args.dossier]
    cfg = ["--config", map_path]

    # N requests, received over the past year (some overdue, some due within a week), in files of
    # 10,000 rows; every third file (0, 3, 6, 9) verified with the import's --method/--by.
    today = dt.date(2026, 12, 6)
    started = time.perf_counter()
    rows_per_file = 10_000
    for start in range(0, args.requests, rows_per_file):
        manifest = out / f"requests-{start}.csv"
        with manifest.open("w", encoding="utf-8") as f:
            f.write("request_id,email,received\n")
            for i in range(start, min(start + rows_per_file, args.requests)):
                received = today - dt.timedelta(days=i % 365)
                f.write(f"LOAD-{i:07d},person{i}@example.com,{received.isoformat()}\n")
        extra = ["--method", "reply from the registered address", "--by", "bench"] if (start // rows_per_file) % 3 == 0 else []
        run(base + ["request", "import", manifest, *cfg, "--today", today.isoformat(), *extra], timeout=3600)
    load_seconds = time.perf_counter() - started

    some = run(base + ["request", "list", *cfg, "--json", "--today", today.isoformat()], timeout=600).stdout
    first_id = some.split('"id"', 1)[1].split('"')[1]
    measured = {
        "request list --json (every request)": timed(base + ["request", "list", *cfg, "--json", "--today", today.isoformat()]),
        "request list --overdue --json": timed(base + ["request", "list", *cfg, "--overdue", "--json", "--today", today.isoformat()]),
        "request list --due-within 7d --json": timed(base + ["request", "list", *cfg, "--due-within", "7d", "--json", "--today", today.isoformat()]),
        "request show ID --json": timed(base + ["request", "show", first_id, *cfg, "--json"]),
        "audit verify": timed(base + ["audit", "verify", *cfg], repeat=1),
    }
    size = (out / "samples" / "ledger" / "ledger.sqlite").stat().st_size
    lines = [f"Ledger under load: {args.requests:,} requests opened by `request import` in {load_seconds:.1f} s "
             f"({args.requests / load_seconds:,.0f} requests/s); ledger file {size / 1e6:.1f} MB.", "",
             "| read | median time | target | met |", "|---|---|---|---|"]
    for name, seconds in measured.items():
        target = TARGETS[name]
        lines.append(f"| `{name}` | {seconds:.2f} s | < {target:g} s | {'yes' if seconds < target else 'no'} |")
    report = "\n".join(lines)
    (out / "results.md").write_text(report + "\n", encoding="utf-8")
    print(report)


if __name__ == "__main__":
    main()
