#!/usr/bin/env bash
# Benchmark of record for `dossier batch` (`make bench`): one run measures everything and says,
# per target, whether it is met, with the numbers.
#
#   BENCH_PEOPLE=10000 Tests/bench/batch.sh [SCRATCH]
#
#   SCRATCH        the generated data set (Tests/bench/people.py: N people, ~100 records each, and
#                  the oracle); default .build-bench/people-$BENCH_PEOPLE in the repository, reused
#                  when its stamp matches. Everything this run writes is kept under SCRATCH/run/
#                  (removed at the start of the next run): results.md; index/ and index.*
#                  (dossier index: .time is /usr/bin/time -v, .stdout, .stderr, .rc), batch/ and
#                  batch.*, requests-mixed.csv and bad.json (the batch's manifest and which of
#                  its requests are bad), check.json (the oracle check), tree/ (the extracted archives), floor/
#                  (half1.zip, half2.zip, their lists and times), hf/ (hyperfine JSON and logs),
#                  mem/ (peak-memory exports), giant-index/, chinook/.
#   BENCH_PEOPLE   the scale: N people (default 10000; at least 300).
#   BENCH_GIANT    records of the giant person of the peak-memory case (default 100000); its own
#                  data set: people.py --people 50 --giant K in .build-bench/giant-K/ (reused).
#   BENCH_JOBS     --jobs of the batch (default 2: the project's 2-core machine).
#   DOSSIER        the binary: `release` (default, .build/release/dossier), `debug`, or a path.
#
# Cases, all in this one run:
#   1. dossier index into a fresh folder: MB/s per source and file kind (target >= 100 MB/s each,
#      one core per source; the median of this build and two more into fresh folders), total wall,
#      peak RSS.
#   2. dossier batch of every person's request with bad requests mixed in (one after every 19
#      good ones: 5 % of the manifest; an address that is not one, no identifier, a request id
#      that climbs out of the folder, an unknown kind): wall, requests/s, MB/s of archives written,
#      peak RSS (target < 150 MB); every good report line checked against the oracle, every bad
#      one failed with its reason and no archive, ~50 archives opened (zipfile testzip, SHA-256,
#      manifest counts = report counts).
#   3. The floor: the batch's archives extracted into a tree, two bsdtar processes zipping one half
#      each (balanced by bytes), in parallel: batch wall / floor wall (target <= 1.0) and archive
#      bytes against the floor's level-6 deflate (target: within 5 %).
#   4. Single exports (hyperfine): heavy_1000 warm (target < 50 ms) and cold (no index folder: the export builds its own, temporary)
#      (target < 1 s; given up after 120 s), a person found nowhere (warm), `dossier --version`.
#   5. Peak RSS of warm single exports of 1, ~1,000 and ~K records (target: flat within 10 %).
#   6. Chinook (Tests/Fixtures/chinook): the batch of its 59 customers (target < 0.5 s) and one
#      customer's export (target < 20 ms).
#
# Needs python3, GNU time (Debian `time`), hyperfine (`hyperfine`), bsdtar (`libarchive-tools`),
# timeout and sha256sum (`coreutils`). Exit 0 when every archive is right (whatever the speed),
# 1 when an archive is wrong against the oracle or a run failed, 2 when something needed is
# missing, 3 when the binary was rebuilt during the run (the numbers would mix two builds).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)

people=${BENCH_PEOPLE:-10000}
giant=${BENCH_GIANT:-100000}
jobs=${BENCH_JOBS:-2}
for v in people giant jobs; do
  case ${!v} in
    ''|*[!0-9]*|0) echo "bench: BENCH_${v^^} takes a positive whole number, not '${!v}'" >&2; exit 2 ;;
  esac
done
if [ "$people" -lt 300 ] || [ "$giant" -lt 10 ]; then
  # Below ~300 people a special subject (one record, found nowhere) may not exist.
  echo "bench: BENCH_PEOPLE takes at least 300 (and BENCH_GIANT at least 10)" >&2
  exit 2
fi
as_of=2026-01-31T09:00:00Z
glibc_tunables=glibc.malloc.trim_threshold=268435456:glibc.malloc.top_pad=16777216


want=${DOSSIER:-release}
case "$want" in
  debug)   dossier=$repo/.build/debug/dossier ;;
  release) dossier=$repo/.build/release/dossier ;;
  /*)      dossier=$want ;;
  *)       if [ -e "$want" ]; then dossier=$(cd "$(dirname "$want")" && pwd)/$(basename "$want")
           else dossier=$repo/$want; fi ;;
esac

# ------------------------------------------------------------------------------------ prerequisites

need() {   # COMMAND PACKAGE
  command -v "$1" >/dev/null 2>&1 && return 0
  echo "bench: '$1' is missing: install the Debian package '$2' (sudo apt-get install $2), then try again." >&2
  exit 2
}
need python3 python3
need hyperfine hyperfine
need bsdtar libarchive-tools
need timeout coreutils
need sha256sum coreutils
if ! [ -x /usr/bin/time ] || ! /usr/bin/time -v true >/dev/null 2>&1; then
  echo "bench: GNU time (/usr/bin/time -v) is missing: install the Debian package 'time'" >&2
  echo "       (sudo apt-get install time), then try again." >&2
  exit 2
fi
if ! [ -x "$dossier" ]; then
  echo "bench: the dossier binary is missing: $dossier" >&2
  echo "       build it with 'swift build -c release --product dossier' (or DOSSIER=debug, or" >&2
  echo "       DOSSIER=/path/to/dossier)." >&2
  exit 2
fi
real=$(readlink -f "$dossier")
case "$real" in
  */release/*) build=release ;;
  */debug/*)   build=debug ;;
  *)           build=unknown ;;
esac
binary_sum=$(sha256sum "$real" | cut -d' ' -f1)
version=$("$dossier" --version 2>/dev/null || echo unknown)

# Progress goes to stderr; stdout is the result tables only.
echo "bench: binary $dossier ($build build, $version, sha256 ${binary_sum:0:12}), $(nproc) CPUs" >&2
if [ "$build" = debug ]; then
  echo "bench: note: a debug build; the targets are for a release build (DOSSIER=release)." >&2
fi

# ------------------------------------------------------------------------------------ data

scratch_arg=${1:-$repo/.build-bench/people-$people}
mkdir -p "$scratch_arg"
scratch=$(cd "$scratch_arg" && pwd)
giant_scratch=$repo/.build-bench/giant-$giant
echo "bench: $people people in $scratch, giant of $giant records in $giant_scratch, --jobs $jobs" >&2

python3 "$here/people.py" "$scratch" --people "$people" >&2
python3 "$here/people.py" "$giant_scratch" --people 50 --giant "$giant" >&2

map=$scratch/people.yaml
requests=$scratch/requests.csv
oracle=$scratch/oracle.jsonl
run=$scratch/run
rm -rf "$run"
mkdir -p "$run/hf" "$run/mem" "$run/floor"
failed=0

# The batch's manifest: every person's request, and after every 19th a bad one (5 % of all), each
# with the reason the batch must give; bad.json lists them.
manifest=$run/requests-mixed.csv
python3 - "$requests" "$manifest" "$run/bad.json" <<'PY'
import csv, json, sys
source, manifest, badf = sys.argv[1:4]
kinds = [  # (request_id, email, kind): what the batch must say about it
    ("BAD-{n:04d}", "not-an-address-{n}", "access", "is not an e-mail address"),
    ("BAD-{n:04d}", "", "access", "names no identifier"),
    ("../BAD-{n:04d}", "bad{n}@example.com", "access", "request id may hold only"),
    ("BAD-{n:04d}", "bad{n}@example.com", "erase", "neither access nor portability"),
]
bad = {}
with open(source, encoding="utf-8", newline="") as f, open(manifest, "w", encoding="utf-8", newline="") as out:
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(["request_id", "email", "kind"])
    for i, row in enumerate(csv.DictReader(f), 1):
        w.writerow([row["request_id"], row["email"], row["kind"]])
        if i % 19 == 0:
            rid, email, kind, why = kinds[len(bad) % len(kinds)]
            n = len(bad) + 1
            bad[rid.format(n=n)] = why
            w.writerow([rid.format(n=n), email.format(n=n), kind])
json.dump(bad, open(badf, "w"), indent=0)
PY

# One person's field from expected.json (special.NAME) and the oracle: `person NAME` prints
# "number email", or nothing when the data set has no such person.
person() {
  python3 - "$1" "$2/expected.json" "$2/oracle.jsonl" <<'PY'
import json, sys
n = json.load(open(sys.argv[2]))["special"].get(sys.argv[1])
if n:
    for line in open(sys.argv[3], encoding="utf-8"):
        r = json.loads(line)
        if r["person"] == n:
            print(n, r["email"])
PY
}

# timed NAME COMMAND...: COMMAND under /usr/bin/time -v; $run/NAME.{time,stdout,stderr,rc}.
# Sets $rc (never fails the script).
timed() {
  local name=$1; shift
  echo "bench: $name ..." >&2
  rc=0
  /usr/bin/time -v -o "$run/$name.time" "$@" >"$run/$name.stdout" 2>"$run/$name.stderr" || rc=$?
  echo "$rc" >"$run/$name.rc"
  if [ "$rc" != 0 ]; then
    echo "bench: $name exited with $rc; its stderr ends with:" >&2
    tail -n 5 "$run/$name.stderr" | sed 's/^/    /' >&2 || true
  fi
}

q() { printf "'%s'" "${1//\'/\'\\\'\'}"; }            # one word, quoted for hyperfine -N
words() { local w out=""; for w in "$@"; do out+="${out:+ }$(q "$w")"; done; printf '%s' "$out"; }

# hf NAME HYPERFINE-OPTIONS... -- COMMAND...: hyperfine without a shell; $run/hf/NAME.{json,log,rc}.
# hf_limit=SECONDS gives up after that long (rc 124).
hf() {
  local name=$1; shift
  local opts=()
  while [ "$1" != -- ]; do opts+=("$1"); shift; done
  shift
  local cmd limit=()
  cmd=$(words "$@")
  [ -n "${hf_limit:-}" ] && limit=(timeout -k 5 "$hf_limit")
  echo "bench: $name (hyperfine) ..." >&2
  rc=0
  "${limit[@]}" hyperfine -N --style basic "${opts[@]}" --export-json "$run/hf/$name.json" \
    --command-name "$name" "$cmd" >"$run/hf/$name.log" 2>&1 || rc=$?
  echo "$rc" >"$run/hf/$name.rc"
  if [ "$rc" = 124 ]; then
    echo "bench: $name: given up after ${hf_limit} s" >&2
  elif [ "$rc" != 0 ]; then
    echo "bench: $name failed (hyperfine exit $rc); its log ends with:" >&2
    tail -n 5 "$run/hf/$name.log" | sed 's/^/    /' >&2 || true
  fi
}

# ------------------------------------------------------------------------------------ 1. index

timed index "$dossier" index --config "$map" --index-dir "$run/index"
if [ "$rc" != 0 ]; then
  echo "bench: dossier index failed: nothing else can be measured." >&2
  exit 1
fi
sed 's/^/    /' "$run/index.stdout" >&2
# Two more builds into fresh folders, removed after: one build of under a second moved by a fifth
# from run to run on the project's machines, so each source's target takes the median of three.
for again in 2 3; do
  "$dossier" index --config "$map" --index-dir "$run/index-$again" >"$run/index-$again.stdout" 2>"$run/index-$again.stderr" || true
  rm -rf "$run/index-$again"
done

# ------------------------------------------------------------------------------------ 2. batch

timed batch "$dossier" batch --config "$map" --requests "$manifest" --out "$run/batch" \
  --index-dir "$run/index" --as-of "$as_of" --jobs "$jobs"
case "$rc" in
  65) ;;                # the bad requests failed (exit 0 would be wrong): the check below
  0)  echo "bench: dossier batch exited 0 although the manifest holds bad requests." >&2; failed=1 ;;
  *)  echo "bench: dossier batch failed: nothing else can be measured." >&2; exit 1 ;;
esac
grep '^batch:' "$run/batch.stdout" | sed 's/^/    /' >&2 || true

echo "bench: checking every archive against the oracle ..." >&2
python3 - "$run" "$scratch" <<'PY' || failed=1
# Every report line against the oracle; ~50 archives opened. Writes run/check.json.
import csv, hashlib, json, os, sys, zipfile
run, scratch = sys.argv[1], sys.argv[2]
out = os.path.join(run, "batch")
expected = json.load(open(os.path.join(scratch, "expected.json")))
oracle = {}
for line in open(os.path.join(scratch, "oracle.jsonl"), encoding="utf-8"):
    r = json.loads(line)
    oracle[r["person"]] = r
with open(os.path.join(run, "requests-mixed.csv"), encoding="utf-8", newline="") as f:
    wanted = [row["request_id"] for row in csv.DictReader(f)]
bad_ids = json.load(open(os.path.join(run, "bad.json")))
report = [json.loads(l) for l in open(os.path.join(out, "report.jsonl"), encoding="utf-8")]

def nonzero(counts):
    return {k: v for k, v in (counts or {}).items() if v}

def path_of(r):
    a = r.get("archive") or ""
    return a if os.path.isabs(a) else os.path.join(out, a)

problems, matched, bad_ok, total_bytes, sizes = [], 0, 0, 0, {}
if [r["request_id"] for r in report] != wanted:
    problems.append(f"the report names {len(report)} requests, the manifest {len(wanted)} "
                    "(or in another order)")
for r in report:
    rid = r["request_id"]
    if rid in bad_ids:                 # failed, saying why, and no archive
        why = []
        if r.get("status") != "failed":
            why.append(f"a bad request has status {r.get('status')}")
        if bad_ids[rid] not in (r.get("error") or ""):
            why.append(f"error {r.get('error')!r} does not say {bad_ids[rid]!r}")
        if r.get("archive"):
            why.append(f"a bad request has an archive {r.get('archive')}")
        if why:
            problems.append(f"{rid}: " + "; ".join(why))
        else:
            bad_ok += 1
        continue
    want = nonzero(oracle[int(rid.split("-")[1])]["counts"])
    got = nonzero(r.get("counts"))
    why = []
    if r.get("status") != "done":
        why.append(f"status {r.get('status')}: {r.get('error')}")
    else:
        if got != want:
            why.append("counts (got/want) " + ", ".join(
                f"{k} {got.get(k, 0)}/{want.get(k, 0)}" for k in sorted(set(got) | set(want))
                if got.get(k, 0) != want.get(k, 0)))
        if (r.get("records") or 0) != sum(got.values()):
            why.append(f"records {r.get('records')} but counts sum to {sum(got.values())}")
        p = path_of(r)
        if not os.path.isfile(p):
            why.append(f"no archive at {p}")
        else:
            size = os.path.getsize(p)
            sizes[rid] = size
            total_bytes += size
            if size != r.get("size"):
                why.append(f"size {size} on disk, {r.get('size')} in the report")
    if why:
        problems.append(f"{rid}: " + "; ".join(why))
    else:
        matched += 1

# The sample: the special people, then evenly spaced requests, ~50 in all.
by_id = {r["request_id"]: r for r in report}
sample = [f"P-{n:06d}" for n in expected["special"].values() if n]
step = max(1, len(report) // 42)
sample += [r["request_id"] for r in report[::step]]
sample = [rid for i, rid in enumerate(sample) if rid in by_id and rid not in bad_ids and rid not in sample[:i]][:50]
sample_ok = 0
for rid in sample:
    r = by_id[rid]
    p = path_of(r)
    why = []
    if r.get("status") != "done" or not os.path.isfile(p):
        continue                       # already a problem above
    digest = hashlib.sha256(open(p, "rb").read()).hexdigest()
    if digest != r.get("sha256"):
        why.append("SHA-256 differs from the report")
    try:
        with zipfile.ZipFile(p) as z:
            bad = z.testzip()
            if bad:
                why.append(f"testzip: {bad} is damaged")
            m = json.loads(z.read("manifest.json"))
        mc = nonzero({f"{d['source']}/{d['dataset']}": d["count"] for d in m["datasets"]})
        if mc != nonzero(r.get("counts")):
            why.append(f"manifest counts {mc} differ from the report's")
    except Exception as e:             # a zip that does not open is a wrong archive
        why.append(f"does not open: {e}")
    if why:
        problems.append(f"{rid} (sample): " + "; ".join(why))
    else:
        sample_ok += 1

json.dump({"requests": len(wanted), "reported": len(report), "matched": matched,
           "bad": len(bad_ids), "bad_reported": bad_ok,
           "sample": len(sample), "sample_ok": sample_ok, "archive_bytes": total_bytes,
           "archives": len(sizes), "problems": problems},
          open(os.path.join(run, "check.json"), "w"), indent=1)
print(f"    {matched}/{len(wanted) - len(bad_ids)} archives match the oracle; {bad_ok}/{len(bad_ids)} bad requests "
      f"failed with their reason; {sample_ok}/{len(sample)} sampled "
      f"archives open (testzip), have the reported SHA-256 and manifest counts", file=sys.stderr)
for p in problems[:20]:
    print(f"    WRONG: {p}", file=sys.stderr)
if len(problems) > 20:
    print(f"    ... and {len(problems) - 20} more (run/check.json)", file=sys.stderr)
sys.exit(1 if problems else 0)
PY

# ------------------------------------------------------------------------------------ 3. the floor

echo "bench: extracting the archives into run/tree (not timed) ..." >&2
python3 - "$run" <<'PY'
# Every done archive into tree/<request_id>/; two halves balanced by bytes (largest first, into
# the lighter half); the folder lists for bsdtar -T. Writes run/floor/split.json.
import json, os, sys, zipfile
run = sys.argv[1]
out, tree = os.path.join(run, "batch"), os.path.join(run, "tree")
os.makedirs(tree, exist_ok=True)
sizes = {}
for line in open(os.path.join(out, "report.jsonl"), encoding="utf-8"):
    r = json.loads(line)
    if r.get("status") != "done":
        continue
    a = r["archive"] if os.path.isabs(r["archive"]) else os.path.join(out, r["archive"])
    with zipfile.ZipFile(a) as z:
        z.extractall(os.path.join(tree, r["request_id"]))
        sizes[r["request_id"]] = sum(i.file_size for i in z.infolist())
halves = [[], []]
load = [0, 0]
for rid in sorted(sizes, key=lambda k: (-sizes[k], k)):
    i = 0 if load[0] <= load[1] else 1
    halves[i].append(rid)
    load[i] += sizes[rid]
for i in (0, 1):
    with open(os.path.join(run, "floor", f"half{i + 1}.list"), "w") as f:
        f.write("".join(rid + "\n" for rid in sorted(halves[i])))
json.dump({"folders": len(sizes), "tree_bytes": sum(sizes.values()),
           "half_bytes": load, "half_folders": [len(h) for h in halves]},
          open(os.path.join(run, "floor", "split.json"), "w"))
print(f"    {len(sizes)} folders, {sum(sizes.values()) / 1e6:.1f} MB; halves "
      f"{load[0] / 1e6:.1f} + {load[1] / 1e6:.1f} MB", file=sys.stderr)
PY
echo "bench: floor: two bsdtar -c --format zip in parallel ..." >&2
floor_rc=0
GLIBC_TUNABLES=$glibc_tunables /usr/bin/time -v -o "$run/floor/floor.time" bash -c '
  floor=$1 tree=$2 pids=() rc=0
  for i in 1 2; do
    /usr/bin/time -v -o "$floor/half$i.time" \
      bsdtar -c --format zip -f "$floor/half$i.zip" -C "$tree" -T "$floor/half$i.list" &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || rc=$?; done
  exit $rc' bash "$run/floor" "$run/tree" >"$run/floor/stdout" 2>"$run/floor/stderr" || floor_rc=$?
if [ "$floor_rc" != 0 ]; then
  echo "bench: the floor's bsdtar failed ($floor_rc):" >&2
  tail -n 5 "$run/floor/stderr" | sed 's/^/    /' >&2 || true
  failed=1
fi

# ------------------------------------------------------------------------------------ 4. single exports

read -r heavy_n heavy_email <<<"$(person heavy_1000 "$scratch")"
read -r nowhere_n nowhere_email <<<"$(person nowhere "$scratch")"
read -r single_n single_email <<<"$(person single "$scratch")"
read -r giant_n giant_email <<<"$(person giant "$giant_scratch")"
for v in heavy nowhere single giant; do
  n=${v}_n
  if [ -z "${!n}" ]; then
    echo "bench: expected.json names no '$v' person (special.${v/heavy/heavy_1000}): nothing to time" >&2
    exit 1
  fi
done

export_cmd() {   # OUT EMAIL [OPTIONS...]: the words of one export
  local out=$1 email=$2; shift 2
  printf '%s\0' "$dossier" export --config "$map" --email "$email" --out "$out" \
    --request-id BENCH --as-of "$as_of" "$@"
}
mapfile -d '' warm < <(export_cmd "$run/hf/warm-out" "$heavy_email" --index-dir "$run/index")
hf warm --warmup 1 --runs 5 --prepare "rm -rf $(q "$run/hf/warm-out")" -- "${warm[@]}"
mapfile -d '' nowhere < <(export_cmd "$run/hf/nowhere-out" "$nowhere_email" --index-dir "$run/index")
hf nowhere --warmup 1 --runs 5 --prepare "rm -rf $(q "$run/hf/nowhere-out")" -- "${nowhere[@]}"
hf version --warmup 3 --runs 20 -- "$dossier" --version
mapfile -d '' cold < <(export_cmd "$run/hf/cold-out" "$heavy_email")
hf_limit=120 hf cold --warmup 0 --runs 3 --prepare "rm -rf $(q "$run/hf/cold-out")" -- "${cold[@]}"

# ------------------------------------------------------------------------------------ 5. peak memory

timed giant-index "$dossier" index --config "$giant_scratch/people.yaml" --index-dir "$run/giant-index"
[ "$rc" = 0 ] || failed=1
mem_export() {   # NAME DATA-SET PERSON EMAIL INDEX; run/mem/NAME.who names the data set and person
  printf '%s\n%s\n' "$2" "$3" >"$run/mem/$1.who"
  timed "mem/$1" "$dossier" export --config "$2/people.yaml" --email "$4" --out "$run/mem/$1-out" \
    --request-id "BENCH-$1" --as-of "$as_of" --index-dir "$5"
  [ "$rc" = 0 ] || failed=1
}
mem_export single "$scratch" "$single_n" "$single_email" "$run/index"
mem_export heavy_1000 "$scratch" "$heavy_n" "$heavy_email" "$run/index"
mem_export giant "$giant_scratch" "$giant_n" "$giant_email" "$run/giant-index"

# ------------------------------------------------------------------------------------ 6. Chinook

chinook=$run/chinook
python3 - "$repo/Tests/Fixtures/chinook" "$chinook" <<'PY'
# As Tests/integration/conftest.py's build_chinook: chinook.sqlite next to a copy of chinook.yaml;
# then the manifest of the 59 customers.
import shutil, sqlite3, sys
from pathlib import Path
src, folder = Path(sys.argv[1]), Path(sys.argv[2])
folder.mkdir(parents=True, exist_ok=True)
shutil.copy(src / "chinook.yaml", folder / "chinook.yaml")
conn = sqlite3.connect(folder / "chinook.sqlite")
conn.executescript((src / "Chinook_Sqlite.sql").read_text(encoding="utf-8-sig"))
conn.commit()
rows = conn.execute("SELECT CustomerId, Email FROM Customer ORDER BY CustomerId").fetchall()
conn.close()
assert len(rows) == 59, len(rows)
with open(folder / "requests.csv", "w", encoding="utf-8", newline="") as f:
    f.write("request_id,email\r\n" + "".join(f"C-{i},{e}\r\n" for i, e in rows))
with open(folder / "customer1.email", "w") as f:
    f.write(rows[0][1])
PY
hf chinook-batch --warmup 1 --runs 5 --prepare "rm -rf $(q "$chinook/batch")" -- \
  "$dossier" batch --config "$chinook/chinook.yaml" --requests "$chinook/requests.csv" \
  --out "$chinook/batch" --as-of "$as_of" --jobs "$jobs"
[ "$rc" = 0 ] || failed=1
hf chinook-export --warmup 1 --runs 10 --prepare "rm -rf $(q "$chinook/export")" -- \
  "$dossier" export --config "$chinook/chinook.yaml" --email "$(cat "$chinook/customer1.email")" \
  --out "$chinook/export" --request-id C-1 --as-of "$as_of"
[ "$rc" = 0 ] || failed=1

# ------------------------------------------------------------------------------------ report

rebuilt=0
[ "$(sha256sum "$real" | cut -d' ' -f1)" = "$binary_sum" ] || rebuilt=1

python3 - "$run" "$scratch" "$giant_scratch" "$people" "$giant" "$jobs" "$build" "$version" \
  "${binary_sum:0:12}" "$(nproc)" "$rebuilt" "$want" <<'PY' || failed=1
import json, os, re, sys, zipfile
(run, scratch, giant_scratch, people, giant, jobs, build, version, binsum, cpus,
 rebuilt, dossier_choice) = sys.argv[1:]
people, giant = int(people), int(giant)
problems = []


def time_v(path):
    """wall s, cpu s, max RSS bytes from /usr/bin/time -v (None when absent)."""
    wall = rss = cpu = None
    if not os.path.exists(path):
        return None, None, None
    for line in open(path):
        line = line.strip()
        if line.startswith(("User time (seconds)", "System time (seconds)")):
            cpu = (cpu or 0) + float(line.rsplit(": ", 1)[1])
        elif line.startswith("Elapsed (wall clock) time"):
            secs = 0.0
            for part in line.rsplit(": ", 1)[1].split(":"):      # h:mm:ss or m:ss.cc
                secs = secs * 60 + float(part)
            wall = secs
        elif line.startswith("Maximum resident set size (kbytes)"):
            rss = int(line.rsplit(": ", 1)[1]) * 1024
    return wall, cpu, rss


def rc_of(path):
    try:
        return int(open(path).read())
    except (OSError, ValueError):
        return None


def hyper(name):
    """(mean s, stddev s, min s, runs) of run/hf/NAME.json, or None; and the exit code."""
    rc = rc_of(f"{run}/hf/{name}.rc")
    try:
        r = json.load(open(f"{run}/hf/{name}.json"))["results"][0]
    except (OSError, ValueError, KeyError, IndexError):
        return None, rc
    return (r["mean"], r.get("stddev") or 0.0, r["min"], len(r["times"])), rc


def ms(h):
    mean, sd, lo, runs = h
    if runs == 1:
        return f"{mean * 1e3:.1f} ms (1 run)"
    return f"{mean * 1e3:.1f} ms ± {sd * 1e3:.1f} (min {lo * 1e3:.1f}, {runs} runs)"


def mb(b):
    return f"{b / 1e6:.1f} MB"


def kinds(map_path):
    """source -> kind, from a data map written by people.py (sources: / name: / kind:)."""
    out, inside, name = {}, False, None
    for line in open(map_path, encoding="utf-8"):
        if re.match(r"^\S", line):
            inside = line.startswith("sources:")
            continue
        if not inside:
            continue
        m = re.match(r"^  ([A-Za-z0-9_-]+):\s*$", line)
        if m:
            name = m.group(1)
        m = re.match(r"^    kind:\s*(\S+)", line)
        if m and name:
            out[name] = m.group(1)
    return out


measures, targets = [], []


def measure(name, value):
    measures.append((name, value))


def target(name, value, goal, met):
    targets.append((name, value, goal, "—" if met is None else "yes" if met else "**no**"))


expected = json.load(open(f"{scratch}/expected.json"))
gexpected = json.load(open(f"{giant_scratch}/expected.json"))
oracle = {json.loads(l)["person"]: json.loads(l) for l in open(f"{scratch}/oracle.jsonl")}
goracle = {json.loads(l)["person"]: json.loads(l) for l in open(f"{giant_scratch}/oracle.jsonl")}
files_mb = sum(expected["file_bytes"].values()) / 1e6

# --- index
kind_of = kinds(f"{scratch}/people.yaml")
wall, cpu, rss = time_v(f"{run}/index.time")
built = re.compile(r"^index: (\S+): built \(([^)]*)\): (\d+) records, (\d+) entries, "
                   r"([\d.]+) MB read in ([\d.]+) s \(([\d.]+) MB/s\)")
per_kind, sum_secs = {}, 0.0
for line in open(f"{run}/index.stdout"):
    line = line.rstrip("\n")
    m = built.match(line)
    src = line.split(": ")[1] if line.startswith("index: ") else None
    if m:
        src, _, records, entries, read_mb, secs, rate = m.groups()
        k = kind_of.get(src, "?")
        sum_secs += float(secs)
        per_kind.setdefault(k, []).append((src, float(rate)))
        measure(f"index {src} ({k})", f"{int(records):,} records, {int(entries):,} entries, "
                f"{float(read_mb):.1f} MB in {float(secs):.2f} s: {float(rate):.0f} MB/s")
    elif src and src in kind_of and kind_of[src] != "sqlite":
        per_kind.setdefault(kind_of[src], []).append((src, None))
        measure(f"index {src} ({kind_of[src]})", line.split(": ", 2)[2])
measure("index: total", f"{wall:.2f} s wall ({sum_secs:.2f} s in the sources' passes), "
        f"{cpu:.2f} s CPU, peak RSS {mb(rss)}")
# The rates of the two further builds (same sources, fresh folders).
again = {}
for n in (2, 3):
    try:
        for line in open(f"{run}/index-{n}.stdout"):
            m = built.match(line.rstrip("\n"))
            if m:
                again.setdefault(m.group(1), []).append(float(m.group(7)))
    except FileNotFoundError:
        pass
for k in ("csv", "jsonl", "xml"):
    got = per_kind.get(k)
    if not got:
        target(f"index build, {k}", "no source of this kind", "≥ 100 MB/s per core", None)
        continue
    for src, rate in got:
        if rate is None:
            target(f"index build, {k} ({src})", "not indexed (scanned)", "≥ 100 MB/s per core",
                   False)
        else:
            rates = [rate] + again.get(src, [])
            median = sorted(rates)[len(rates) // 2]
            runs = ", ".join(f"{r:.0f}" for r in rates)
            target(f"index build, {k} ({src})", f"{median:.0f} MB/s (median of {len(rates)} builds: {runs})",
                   "≥ 100 MB/s per core", median >= 100)

# --- batch
bwall, bcpu, brss = time_v(f"{run}/batch.time")
check = json.load(open(f"{run}/check.json"))
abytes = check["archive_bytes"]
summary = next((l.strip() for l in open(f"{run}/batch.stdout") if l.startswith("batch:")), "")
good = check["requests"] - check["bad"]
measure("batch: requests", f"{check['requests']:,} ({people:,} people and {check['bad']:,} bad requests, "
        f"--jobs {jobs}); {summary}")
measure("batch: wall", f"{bwall:.2f} s ({check['requests'] / bwall:.1f} requests/s), "
        f"{bcpu:.2f} s CPU ({bcpu / bwall * 100:.0f} % of one core)")
measure("batch: archives written", f"{check['archives']:,} archives, {mb(abytes)}, "
        f"{abytes / 1e6 / bwall:.1f} MB/s")
measure("batch: peak RSS", mb(brss))
measure("batch: archives right against the oracle",
        f"{check['matched']:,}/{good:,} (report vs oracle); "
        f"{check['sample_ok']}/{check['sample']} sampled archives opened and checked")
target("archives right (report counts = oracle)", f"{check['matched']:,}/{good:,}",
       "all", check["matched"] == good and not check["problems"])
target("bad requests (5 %) failed alone, each with its reason and no archive",
       f"{check['bad_reported']:,}/{check['bad']:,}", "all",
       check["bad"] > 0 and check["bad_reported"] == check["bad"])
target("batch peak RSS", mb(brss), "< 150 MB", brss < 150e6)

# --- floor
fwall, fcpu, frss = time_v(f"{run}/floor/floor.time")
split = json.load(open(f"{run}/floor/split.json"))
fbytes = sum(os.path.getsize(f"{run}/floor/half{i}.zip") for i in (1, 2)
             if os.path.exists(f"{run}/floor/half{i}.zip"))
halves = [time_v(f"{run}/floor/half{i}.time")[0] for i in (1, 2)]
measure("floor: tree", f"{split['folders']:,} folders, {mb(split['tree_bytes'])} unpacked; halves "
        f"{mb(split['half_bytes'][0])} + {mb(split['half_bytes'][1])}")
if fwall:
    measure("floor: two bsdtar zips in parallel",
            f"{fwall:.2f} s wall (halves {halves[0]:.2f} s and {halves[1]:.2f} s), "
            f"{fcpu:.2f} s CPU, {mb(fbytes)} written")
    ratio = bwall / fwall
    target("batch wall / floor wall", f"{bwall:.2f} s / {fwall:.2f} s = {ratio:.2f}", "≤ 1.0",
           ratio <= 1.0)
    pct = (abytes - fbytes) / fbytes * 100
    target("batch archive bytes vs floor (level-6 deflate)",
           f"{mb(abytes)} vs {mb(fbytes)}: {pct:+.1f} %", "≤ +5 %", pct <= 5.0)
else:
    target("batch wall / floor wall", "floor not measured", "≤ 1.0", False)

# --- single exports
for name, label, goal, limit in (
        ("warm", f"export heavy_1000 (P-{expected['special']['heavy_1000']:06d}, "
                 f"{expected['special_totals']['heavy_1000']:,} records), warm", "< 50 ms", 0.050),
        ("cold", "export heavy_1000, cold (no index folder: built for the export)", "< 1 s", 1.0),
        ("nowhere", f"export of a person found nowhere (P-{expected['special']['nowhere']:06d}), warm",
         "< 50 ms", 0.050)):
    h, rc = hyper(name)
    if h:
        value = ms(h) if h[0] < 1 else f"{h[0]:.2f} s" + (" (1 run)" if h[3] == 1 else "")
        target(label, value, goal, h[0] < limit)
    elif name == "cold" and rc == 124:
        target(label, "not measured (over 120 s)", goal, False)
    else:
        target(label, f"failed (exit {rc})", goal, False)
h, rc = hyper("version")
measure("process start (`dossier --version`)", ms(h) if h else f"failed (exit {rc})")


# --- peak memory
def manifest_counts(name):
    out = f"{run}/mem/{name}.stdout"
    lines = open(out).read().split() if os.path.exists(out) else []
    if not lines or not os.path.isfile(lines[-1]):
        return None
    with zipfile.ZipFile(lines[-1]) as z:
        m = json.loads(z.read("manifest.json"))
    return {f"{d['source']}/{d['dataset']}": d["count"] for d in m["datasets"] if d["count"]}


rss = {}
for name in ("single", "heavy_1000", "giant"):
    wall, cpu, r = time_v(f"{run}/mem/{name}.time")
    rc = rc_of(f"{run}/mem/{name}.rc")
    folder, n = open(f"{run}/mem/{name}.who").read().splitlines()
    want = (goracle if folder == giant_scratch else oracle)[int(n)]
    got = manifest_counts(name) if rc == 0 else None
    ok = got == {k: v for k, v in want["counts"].items() if v}
    if not ok:
        problems.append(f"single export {name}: counts {got} differ from the oracle")
    if rc == 0 and r:
        rss[name] = r
    noun = "record" if want["total"] == 1 else "records"
    measure(f"peak RSS, export of {want['total']:,} {noun} ({name}), warm",
            f"{mb(r)}, {wall:.2f} s" + ("" if ok else " (COUNTS WRONG)") if rc == 0
            else f"failed (exit {rc})")
if len(rss) == 3:
    spread = (max(rss.values()) / min(rss.values()) - 1) * 100
    target("single-export peak RSS, 1 → ~1,000 → ~100,000 records",
           " / ".join(mb(rss[k]) for k in ("single", "heavy_1000", "giant"))
           + f" (spread {spread:.0f} %)", "flat within 10 %", spread <= 10)
else:
    target("single-export peak RSS, 1 → ~1,000 → ~100,000 records", "not measured",
           "flat within 10 %", False)

# --- Chinook
reportf = f"{run}/chinook/batch/report.jsonl"
done = sum(1 for l in open(reportf) if json.loads(l)["status"] == "done") if os.path.exists(reportf) else 0
if done != 59:
    problems.append(f"Chinook batch: {done}/59 requests done")
h, rc = hyper("chinook-batch")
target("Chinook: batch of its 59 customers", (f"{h[0] * 1e3:.0f} ms ± {h[1] * 1e3:.0f} "
       f"(min {h[2] * 1e3:.0f}, {h[3]} runs; {done}/59 done)") if h else f"failed (exit {rc})",
       "< 0.5 s",
       bool(h) and h[0] < 0.5)
h, rc = hyper("chinook-export")
target("Chinook: one customer's export", ms(h) if h else f"failed (exit {rc})", "< 20 ms",
       bool(h) and h[0] < 0.020)

# --- the tables
command = f"make bench BENCH_PEOPLE={people}"
lines = [f"Dossier batch benchmark: {people:,} people ({files_mb:.0f} MB of sources, "
         f"{expected['records_in_files_total']:,} records, {expected['records_found_total']:,} "
         f"found by the requests), "
         f"--jobs {jobs}, {cpus} CPUs, {build} build ({version}, sha256 {binsum})", "",
         "| measure | value |", "|---|---|"]
lines += [f"| {a} | {b} |" for a, b in measures]
lines += ["", "Targets:", "", "| measure | value | target | met |", "|---|---|---|---|"]
lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in targets]
met = sum(1 for t in targets if t[3] == "yes")
lines += ["", f"{met} of {len(targets)} targets met. Produced by `{command}` "
          f"(Tests/bench/batch.sh, DOSSIER={dossier_choice}, BENCH_GIANT={giant}); files in {run}/."]
if problems or check["problems"]:
    lines += ["", "Wrong:"] + [f"- {p}" for p in (check["problems"][:20] + problems)]
if rebuilt == "1":
    lines += ["", "WARNING: the binary was rebuilt during the run; the rows may mix two builds."]
text = "\n".join(lines) + "\n"
open(f"{run}/results.md", "w").write(text)
print()
print(text, end="")
sys.exit(1 if problems else 0)
PY

if [ "$rebuilt" = 1 ]; then
  echo "bench: warning: $dossier was rebuilt while the benchmark ran; run it again." >&2
  exit 3
fi
exit "$failed"
