#!/bin/bash
# Builds and runs the CXMLIndex tests with gcc, outside SwiftPM.
#   bash Sources/C/CXMLIndex/test/run.sh [DATADIR]
# DATADIR (default /tmp/dossier-xml-index-test) receives gen.py's test files on the first run (~250 MB,
# a minute), reused afterwards. Checks: every test_xml_index check, nothing on stderr, valgrind (when
# installed) on the small cases, peak RSS of a scan of a 70 MB file under 30 MB; prints MB/s of the
# 73 MB bench file (for reference only).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
data=${1:-/tmp/dossier-xml-index-test}
mkdir -p "$data"
bin="$data/test_xml_index"

gcc -std=gnu11 -O2 -Wall -Wextra -Werror -I"$here/../include" "$here/../dossier_xml_index.c" "$here/test_xml_index.c" \
    $(pkg-config --cflags --libs libxml-2.0) -lpthread -o "$bin"

gen() { # NAME MODE SIZE
    [ -s "$data/$1" ] && [ -s "$data/$1.truth" ] || python3 "$here/gen.py" "$2" "$data/$1" "$3"
}
gen small.xml tricky 0.5
gen big.xml tricky 20
gen big70.xml tricky 70
gen bench.xml bench 300000
gen latin2.xml latin2 2000
gen utf16.xml utf16 2000
gen ns.xml ns 1000
gen nslatin2.xml nslatin2 1000

status=0
"$bin" all "$data" 2>"$data/stderr.txt" || status=1
if [ -s "$data/stderr.txt" ]; then echo "FAIL something was printed on stderr:"; head -20 "$data/stderr.txt"; status=1; fi

# memory errors and leaks on the small documents (refusals and errors stop the parser mid-way)
if command -v valgrind >/dev/null; then
    if valgrind -q --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=9 "$bin" cases "$data" \
        >"$data/valgrind.out" 2>"$data/valgrind.txt"; then echo "ok   valgrind: no memory errors, no leaks"
    else echo "FAIL valgrind:"; head -30 "$data/valgrind.txt"; status=1; fi
fi

rss() { # FILE: peak RSS in kB of a counting scan
    /usr/bin/time -v "$bin" count "$1" /contests/contest/entry 2>"$data/time.txt" >/dev/null
    awk '/Maximum resident set size/ {print $6}' "$data/time.txt"
}
for f in big70.xml bench.xml; do
    kb=$(rss "$data/$f")
    size=$(( $(stat -c %s "$data/$f") / 1000000 ))
    if [ "$kb" -lt 30000 ]; then echo "ok   peak RSS scanning $f ($size MB): $((kb / 1024)) MB"
    else echo "FAIL peak RSS scanning $f ($size MB): $((kb / 1024)) MB"; status=1; fi
done

"$bin" count "$data/bench.xml" /contests/contest/entry 5 || status=1
exit $status
