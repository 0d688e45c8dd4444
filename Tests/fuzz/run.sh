#!/usr/bin/env bash
# make fuzz: runs each libFuzzer target of dossier-fuzz (Sources/DossierFuzz) for FUZZ_SECONDS,
# starting from seeds taken from Samples/ and Tests/corpus/ (the files the cases write), keeping
# what it learns in .build-fuzz/corpus/<target>. A crash, a hang (over 10 s) or more than 2 GB of
# memory stops it: the input is in .build-fuzz/crashes/, and the run fails. Turn such an input into
# a case of Tests/corpus/ with the outcome it must have, fix the code, and run again.
set -euo pipefail
cd "$(dirname "$0")/../.."
FUZZER=${FUZZER:-.build-fuzz/debug/dossier-fuzz}
SECONDS_EACH=${FUZZ_SECONDS:-60}
TARGETS=${FUZZ_TARGETS:-json csv jsonl xml map identifiers}
PY=${PY:-.build-venv/bin/python}
mkdir -p .build-fuzz/seeds .build-fuzz/corpus .build-fuzz/crashes

# Seeds: every file the corpus cases write, by kind, and the samples.
"$PY" - <<'PY'
import hashlib, pathlib, yaml
root = pathlib.Path(".build-fuzz/seeds")
kinds = {"csv": ["csv"], "jsonl": ["jsonl", "json"], "xml": ["xml"], "map": ["yaml", "yml"]}
def put(kind, data: bytes):
    d = root / kind
    d.mkdir(parents=True, exist_ok=True)
    (d / hashlib.sha256(data).hexdigest()[:16]).write_bytes(data)
for case in pathlib.Path("Tests/corpus").rglob("case.yaml"):
    spec = yaml.safe_load(case.read_text(encoding="utf-8"))
    for name, text in (spec.get("files") or {}).items():
        ext = name.rsplit(".", 1)[-1]
        for kind, exts in kinds.items():
            if ext in exts:
                put(kind, text.encode("utf-8"))
                if kind == "jsonl":
                    put("json", text.split("\n", 1)[0].encode("utf-8"))
for path in pathlib.Path("Samples").rglob("*"):
    if path.is_file() and path.stat().st_size < 200_000:
        ext = path.suffix.lstrip(".")
        for kind, exts in kinds.items():
            if ext in exts:
                put(kind, path.read_bytes())
for text in ["anna@example.pl", " Anna@Example.PL ", "\u212aasia@example.pl", "ŁUKASZ@example.pl", "+48 22 122 86 17 ext. 5",
             "0048221228617", "0800-FLOWERS", "+1 800 FLOWERS"]:
    put("identifiers", text.encode("utf-8"))
PY

status=0
for t in $TARGETS; do
  mkdir -p ".build-fuzz/corpus/$t" ".build-fuzz/seeds/$t"
  echo "fuzz: $t for ${SECONDS_EACH} s"
  if ! DOSSIER_FUZZ_TARGET=$t "$FUZZER" ".build-fuzz/corpus/$t" ".build-fuzz/seeds/$t" \
      -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
      -artifact_prefix=".build-fuzz/crashes/$t-" -print_final_stats=1 > ".build-fuzz/$t.log" 2>&1; then
    echo "fuzz: $t FAILED; the input is in .build-fuzz/crashes/ (log: .build-fuzz/$t.log)"
    tail -n 30 ".build-fuzz/$t.log"
    status=1
  else
    grep -E "^stat::number_of_executed_units|^stat::peak_rss_mb" ".build-fuzz/$t.log" | sed "s/^/fuzz: $t: /"
  fi
done
exit $status
