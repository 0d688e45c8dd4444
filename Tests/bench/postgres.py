#!/usr/bin/env python3
"""PostgreSQL part of `make bench` (issue 9): Chinook in a private PostgreSQL cluster as a source, and
the PostgreSQL ledger's queue with 1, 2 and 4 workers.

    .build-venv/bin/python Tests/bench/postgres.py [--requests 1000] [--out DIR]

Prints a Markdown table (and writes it to DIR/postgres.md) with, measured in this one run:
  - one Chinook request through `kind: postgres`, process start included (hyperfine), target < 20 ms;
  - all 59 customers as one `dossier batch --jobs 2`, target < 0.5 s; its peak memory, target < 50 MB;
  - the queue: REQUESTS requests (Chinook's 59 customers in turn) imported into a fresh PostgreSQL
    ledger, verified, then fulfilled by 1, 2 and 4 `dossier worker --once --jobs 1` processes at once:
    wall time and requests/s; the same requests as one `dossier batch` (no ledger) for comparison, so
    that (workers - batch) / requests is what the ledger's claims and records cost per request;
  - the claim transaction alone, as SQL (pgbench, one client): its mean latency.
For comparison (issue 9): Ethyca Fides 2.86 on the same Chinook data and this kind of machine took
0.37 s for one access request, 12-13 s for all 59 and 868 MiB.
Talks only to 127.0.0.1; every run is bounded by timeouts.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "Tests" / "integration"))
from pg_server import PrivateCluster  # noqa: E402
from test_postgres_source import pg_map_text, URL_VARIABLE  # noqa: E402

AS_OF = "2026-01-02T03:04:05Z"
CHINOOK = REPO / "Tests" / "Fixtures" / "chinook"


def sh(argv, env=None, timeout=600, **kw) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(a) for a in argv], env=env, capture_output=True, text=True, timeout=timeout, **kw)
    if proc.returncode != 0:
        raise SystemExit(f"bench: {' '.join(map(str, argv[:3]))} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return proc


def hyperfine(name: str, command: str, out: Path, env: dict, runs: int, prepare: str | None = None) -> float:
    """Mean seconds of `command` (a shell line) over `runs` runs after 3 warm-ups."""
    argv = ["hyperfine", "-N" if prepare is None else "--shell=bash", "--warmup", "3", "--runs", str(runs),
            "--export-json", out / f"{name}.json"]
    if prepare:
        argv += ["--prepare", prepare]
    sh(argv + [command], env=env, timeout=900)
    return json.loads((out / f"{name}.json").read_text())["results"][0]["mean"]


def peak_rss_mb(argv: list, env: dict) -> float:
    proc = sh(["/usr/bin/time", "-v", *argv], env=env)
    kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr).group(1))
    return kb / 1024


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=1000)
    ap.add_argument("--out", type=Path, default=REPO / ".build-bench" / "postgres")
    ap.add_argument("--dossier", default=os.environ.get("DOSSIER_BIN", str(REPO / ".build" / "release" / "dossier")))
    args = ap.parse_args()
    dossier = args.dossier
    out = args.out
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)

    rows = []
    with PrivateCluster() as cluster:
        # --- Chinook as a source
        cluster.psql_file(CHINOOK / "Chinook_PostgreSql.sql")
        cluster.create_role("bench_reader", "bench")
        cluster.psql("GRANT SELECT ON ALL TABLES IN SCHEMA public TO bench_reader;", db="chinook")
        work = out / "chinook"
        work.mkdir()
        sqlite_map = (CHINOOK / "chinook.yaml").read_text(encoding="utf-8")
        pg_map = work / "chinook-postgres.yaml"
        pg_map.write_text(pg_map_text(sqlite_map), encoding="utf-8")
        env = dict(os.environ, **{URL_VARIABLE: cluster.url("bench_reader", "bench", "chinook")})
        customers = [line.split("|") for line in cluster.psql(
            "SELECT customer_id, email FROM customer ORDER BY customer_id", db="chinook").splitlines()]
        assert len(customers) == 59
        one = (f"{dossier} export --config {pg_map} --email {customers[0][1]} --out {work / 'one'} "
               f"--request-id BENCH-1 --as-of {AS_OF}")
        t_one = hyperfine("one", one, out, env, runs=30)
        manifest = work / "customers.csv"
        with open(manifest, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["request_id", "email"])
            w.writerows([[f"C-{cid}", email] for cid, email in customers])
        batch = (f"{dossier} batch --config {pg_map} --requests {manifest} --out {work / 'batch'} --jobs 2 "
                 f"--as-of {AS_OF}")
        t_batch = hyperfine("batch59", batch, out, env, runs=10, prepare=f"rm -rf {work / 'batch'}")
        shutil.rmtree(work / "batch", ignore_errors=True)
        rss_batch = peak_rss_mb(batch.split(), env)
        rows += [
            ("Chinook in PostgreSQL: one customer, process start included", f"{t_one * 1000:.1f} ms", "< 20 ms", t_one < 0.020),
            ("Chinook in PostgreSQL: its 59 customers as one batch (--jobs 2)", f"{t_batch * 1000:.0f} ms", "< 0.5 s", t_batch < 0.5),
            ("peak memory of that batch", f"{rss_batch:.1f} MB", "< 50 MB", rss_batch < 50),
        ]

        # --- the queue
        cluster.create_role("bench_ledger", "bench")
        n = args.requests
        queue_manifest = work / "queue.csv"
        with open(queue_manifest, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["request_id", "email"])
            w.writerows([[f"Q-{i:05d}", customers[i % 59][1]] for i in range(n)])
        ledger_block = "\nledger:\n  url_env: BENCH_LEDGER_URL\n  archives: {archives}\n  lease_seconds: 30\n"
        times = {}
        for workers in (1, 2, 4):
            db = f"queue_{workers}"
            cluster.create_database(db, owner="bench_ledger")
            folder = out / f"queue-{workers}"
            folder.mkdir()
            qmap = folder / "map.yaml"
            qmap.write_text(pg_map.read_text(encoding="utf-8") + ledger_block.format(archives=folder / "archives"), encoding="utf-8")
            qenv = dict(env, BENCH_LEDGER_URL=cluster.url("bench_ledger", "bench", db))
            sh([dossier, "request", "import", queue_manifest, "--config", qmap, "--received", "2026-11-02",
                "--today", "2026-11-02"], env=qenv, timeout=1800)
            # Verified in one statement: identity checks are the officer's, not what is measured here.
            cluster.psql("UPDATE requests SET status = 'verified', verified_at = now(), verified_by = 'bench', "
                         "verification_method = 'bench';", db=db)
            start = time.monotonic()
            # each worker under GNU time, for its peak memory (what the Kubernetes requests are sized from)
            procs = [subprocess.Popen(["/usr/bin/time", "-v", dossier, "worker", "--once", "--jobs", "1", "--config", qmap],
                                      env=qenv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                     for _ in range(workers)]
            peaks = []
            for p in procs:
                _, err = p.communicate(timeout=1800)
                assert p.returncode == 0, err[-2000:]
                peaks.append(int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", err).group(1)) / 1024)
            wall = time.monotonic() - start
            delivered = int(cluster.psql("SELECT count(*) FROM deliveries WHERE copy = 1;", db=db).strip())
            distinct = int(cluster.psql("SELECT count(DISTINCT request_id) FROM deliveries;", db=db).strip())
            assert delivered == distinct == n, (delivered, distinct, n)
            times[workers] = wall
            rows.append((f"queue: {n} requests, {workers} worker(s) × --jobs 1", f"{wall:.1f} s, {n / wall:.0f} requests/s, "
                         f"peak memory per worker {max(peaks):.0f} MB", "", None))
        # the same work without a ledger
        start = time.monotonic()
        sh([dossier, "batch", "--config", pg_map, "--requests", queue_manifest, "--out", out / "queue-batch",
            "--jobs", "1", "--as-of", AS_OF], env=env, timeout=1800)
        t_plain = time.monotonic() - start
        rows.append((f"the same {n} requests as one batch --jobs 1 (no ledger)", f"{t_plain:.1f} s, {n / t_plain:.0f} requests/s", "", None))
        rows.append(("ledger cost per request (1 worker − batch) / requests", f"{(times[1] - t_plain) / n * 1000:.1f} ms", "", None))
        # the claim transaction alone
        claim_sql = out / "claim.sql"
        claim_sql.write_text("""\\set r random(1, 1000000000)
BEGIN;
SELECT pg_advisory_xact_lock(28270039319274866);
SELECT r.id FROM requests r WHERE r.status IN ('verified', 'extended') AND r.verified_at IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM claims l WHERE l.request_id = r.id AND l.expires_at > clock_timestamp())
  ORDER BY r.deadline, r.id LIMIT 1 FOR UPDATE OF r SKIP LOCKED;
INSERT INTO claims (request_id, token, owner, started_at, expires_at) SELECT id, :r::text, 'pgbench', now(), now() + interval '30 seconds' FROM requests ORDER BY id LIMIT 1 ON CONFLICT (request_id) DO UPDATE SET token = EXCLUDED.token;
DELETE FROM claims WHERE owner = 'pgbench';
COMMIT;
""")
        db = "queue_1"
        cluster.psql("UPDATE requests SET status = 'verified' WHERE true;", db=db)
        pgbench = cluster.bindir / "pgbench"
        proc = sh([pgbench, "-n", "-h", cluster.dir, "-p", str(cluster.port), "-U", "postgres", "-f", claim_sql,
                   "-t", "1000", "-c", "1", db], env=dict(os.environ, PGPASSWORD=cluster.superuser_password))
        latency = re.search(r"latency average = ([\d.]+) ms", proc.stdout).group(1)
        rows.append(("claim transaction alone (SQL, pgbench, 1 client, 1,000 runs)", f"{latency} ms", "", None))

    table = ["| measure | value | target | met |", "|---|---|---|---|"]
    for name, value, target, met in rows:
        table.append(f"| {name} | {value} | {target} | {'' if met is None else ('yes' if met else 'no')} |")
    text = "\n".join(table) + "\n"
    (out / "postgres.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
