#!/usr/bin/env bash
# Benchmark of `dossier export` on large generated sources.
#
#   Tests/bench/run.sh [SCRATCH]
#
#   SCRATCH   folder for the generated sources, the data map and the archives; default .build-bench/
#             in the repository. Reused when it was written by the same generator (see generate.py).
#   DOSSIER   the binary: a path, or `debug` (default, .build/debug/dossier) or `release`
#             (.build/release/dossier, after `swift build -c release --product dossier`).
#   BENCH_VALIDATE=0   skip the timed `dossier validate` run (it parses every source: about as slow
#             as an export).
#
# Needs python3 and GNU time (/usr/bin/time -v, Debian package `time`); bsdtar, gzip and zip only
# for the baseline rows. Cases: the heavy subject as zip and as tar.gz, a subject with one record in
# every dataset, and a subject found nowhere; then the same bundle packed by bsdtar | gzip and by zip.
# Prints a table: case, wall seconds, CPU seconds (user + system), max RSS, archive size, records
# exported (summed from the manifest inside the archive), and whether the per-dataset counts are the
# ones the generator planted. Exits 1 when a run fails, a count differs, or the binary changed.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)

scratch_arg=${1:-$repo/.build-bench}
mkdir -p "$scratch_arg"
scratch=$(cd "$scratch_arg" && pwd)

want=${DOSSIER:-debug}
case "$want" in
  debug)   dossier=$repo/.build/debug/dossier ;;
  release) dossier=$repo/.build/release/dossier ;;
  /*)      dossier=$want ;;
  *)       if [ -e "$want" ]; then dossier=$(cd "$(dirname "$want")" && pwd)/$(basename "$want")
           else dossier=$repo/$want; fi ;;
esac

# ------------------------------------------------------------------------------------ prerequisites

command -v python3 >/dev/null || { echo "bench: python3 is needed (apt-get install python3)." >&2; exit 1; }
if ! [ -x /usr/bin/time ] || ! /usr/bin/time -v true >/dev/null 2>&1; then
  echo "bench: GNU time (/usr/bin/time -v) is missing: install the Debian package 'time'" >&2
  echo "       (sudo apt-get install time), then try again." >&2
  exit 1
fi
if ! [ -x "$dossier" ]; then
  echo "bench: the dossier binary is missing: $dossier" >&2
  echo "       build it with 'swift build --product dossier', or 'swift build -c release --product dossier'" >&2
  echo "       and DOSSIER=release (any other path works too: DOSSIER=/path/to/dossier)." >&2
  exit 1
fi
real=$(readlink -f "$dossier")
case "$real" in
  */release/*) build=release ;;
  */debug/*)   build=debug ;;
  *)           build=unknown ;;
esac

echo "bench: binary $dossier ($build build), $(nproc) CPUs, scratch $scratch"
binary_sum=$(sha256sum "$real" | cut -d' ' -f1)
[ "$build" = debug ] && echo "bench: note: a debug build; expect a release build (DOSSIER=release) to be faster."

# ------------------------------------------------------------------------------------ sources

python3 "$here/generate.py" "$scratch"

config=$scratch/bench.yaml
out=$scratch/out
rm -rf "$out"
mkdir -p "$out"
results=$out/results.tsv
: >"$results"
as_of=2026-01-31T09:00:00Z
failed=0

# timed NAME EXPECT ARCHIVE_FROM -- COMMAND...: runs COMMAND under /usr/bin/time -v in $out/NAME/,
# records a row in results.tsv. ARCHIVE_FROM: `stdout` (the last stdout line names the archive),
# a file path, or `-` (no archive).
timed() {
  local name=$1 expect=$2 archive_from=$3; shift 4
  local dir=$out/$name rc=0 archive=-
  mkdir -p "$dir"
  echo "bench: $name ..." >&2
  /usr/bin/time -v -o "$dir/time.txt" "$@" >"$dir/stdout" 2>"$dir/stderr" || rc=$?
  if [ "$rc" != 0 ]; then
    echo "bench: $name failed with exit code $rc; its stderr ends with:" >&2
    tail -n 5 "$dir/stderr" >&2 || true
    failed=1
  elif [ "$archive_from" = stdout ]; then
    archive=$(tail -n 1 "$dir/stdout")
  elif [ "$archive_from" != - ]; then
    archive=$archive_from
  fi
  printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$rc" "$dir/time.txt" "$archive" "$expect" >>"$results"
}

export_case() {   # NAME EXPECT FORMAT EMAIL
  local name=$1 expect=$2 format=$3 email=$4
  timed "$name" "$expect" stdout -- "$dossier" export --config "$config" --email "$email" \
    --format "$format" --out "$out/$name" --request-id "BENCH-$name" --as-of "$as_of"
}

email_of() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]]["email"])' \
  "$scratch/expected.json" "$1"; }
heavy=$(email_of heavy)
single=$(email_of single)
nowhere=$(email_of nowhere)

# ------------------------------------------------------------------------------------ runs

if [ "${BENCH_VALIDATE:-1}" != 0 ]; then
  timed validate - - -- "$dossier" validate --config "$config"
fi
export_case heavy-zip    heavy   zip    "$heavy"
export_case heavy-tar.gz heavy   tar.gz "$heavy"
export_case single-zip   single  zip    "$single"
export_case nowhere-zip  nowhere zip    "$nowhere"

# Baseline: the heavy bundle (unpacked from the zip dossier wrote) packed again by standard tools.
heavy_zip=$(awk -F'\t' '$1 == "heavy-zip" { print $4 }' "$results")
if [ -n "$heavy_zip" ] && [ "$heavy_zip" != - ]; then
  bundle=$out/baseline/bundle
  mkdir -p "$bundle"
  python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' \
    "$heavy_zip" "$bundle"
  if command -v bsdtar >/dev/null && command -v gzip >/dev/null; then
    timed "baseline bsdtar|gzip" heavy "$out/baseline/bundle.tar.gz" -- \
      sh -c 'bsdtar -cf - -C "$1" . | gzip -6 >"$2"' sh "$bundle" "$out/baseline/bundle.tar.gz"
  else
    echo "bench: bsdtar or gzip missing (apt-get install libarchive-tools gzip): no tar baseline" >&2
  fi
  if command -v zip >/dev/null; then
    timed "baseline zip -r" heavy "$out/baseline/bundle.zip" -- \
      sh -c 'cd "$1" && zip -q -r -X "$2" .' sh "$bundle" "$out/baseline/bundle.zip"
  else
    echo "bench: zip missing (apt-get install zip): no zip baseline" >&2
  fi
fi

# ------------------------------------------------------------------------------------ report

python3 - "$results" "$scratch/expected.json" <<'PY' || failed=1
import json, os, sys, tarfile, zipfile

results, expected_path = sys.argv[1], sys.argv[2]
expected = json.load(open(expected_path))


def time_v(path):
    wall = rss = None
    cpu = 0.0
    for line in open(path):
        line = line.strip()
        if line.startswith(("User time (seconds)", "System time (seconds)")):
            cpu += float(line.rsplit(": ", 1)[1])
        elif line.startswith("Elapsed (wall clock) time"):
            value = line.rsplit(": ", 1)[1]          # h:mm:ss or m:ss.cc
            secs = 0.0
            for part in value.split(":"):
                secs = secs * 60 + float(part)
            wall = secs
        elif line.startswith("Maximum resident set size (kbytes)"):
            rss = int(line.rsplit(": ", 1)[1]) / 1024
    return wall, cpu, rss


def manifest(path):
    if path.endswith(".zip"):
        with zipfile.ZipFile(path) as z:
            return json.loads(z.read("manifest.json"))
    with tarfile.open(path, "r:gz") as t:
        for member in t:
            if member.name.lstrip("./") == "manifest.json":
                return json.load(t.extractfile(member))
    raise SystemExit(f"no manifest.json in {path}")


rows, bad = [], False
for line in open(results):
    name, rc, timefile, archive, expect = line.rstrip("\n").split("\t")
    wall, cpu, rss = time_v(timefile) if os.path.exists(timefile) else (None, None, None)
    size = records = "-"
    check = "ok" if rc == "0" else f"exit {rc}"
    if rc == "0" and archive != "-":
        size = f"{os.path.getsize(archive) / 2**20:.2f}"
        m = manifest(archive)
        counts = {f"{d['source']}/{d['dataset']}": d["count"] for d in m["datasets"]}
        records = f"{sum(counts.values()):,}"
        if expect != "-":
            want = expected[expect]["records"]
            got = {k: v for k, v in counts.items() if v}
            if got != want:
                check = "MISMATCH " + ", ".join(
                    f"{k} {got.get(k, 0)}/{want.get(k, 0)}" for k in sorted(set(got) | set(want))
                    if got.get(k, 0) != want.get(k, 0))
    bad |= check != "ok"
    num = lambda x, f: "-" if x is None else format(x, f)
    rows.append([name, num(wall, ".2f"), num(cpu, ".2f"), num(rss, ".1f"), size, records, check])

head = ["case", "wall s", "cpu s", "max RSS MiB", "archive MiB", "records", "check"]
widths = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]
fmt = lambda r: "  ".join(c.ljust(w) if i in (0, len(head) - 1) else c.rjust(w)
                          for i, (c, w) in enumerate(zip(r, widths))).rstrip()
print()
print(fmt(head))
print("  ".join("-" * w for w in widths))
for r in rows:
    print(fmt(r))
sys.exit(1 if bad else 0)
PY

if [ "$(sha256sum "$real" | cut -d' ' -f1)" != "$binary_sum" ]; then
  echo "bench: warning: $dossier was rebuilt while the benchmark ran; the rows may mix two builds." >&2
  failed=1
fi
exit "$failed"
