#!/usr/bin/env bash
# The WSS sample's export, as `make demo` runs it: starts the consent platform's API (consent_api.py)
# on 127.0.0.1, exports the sample person (jonas.tamm@example.ee) through all four sources, stops it.
#   DOSSIER=.build/debug/dossier OUT=.build-demo bash Samples/wss/demo.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
dossier="${DOSSIER:-dossier}"
out="${OUT:-.}"
python="${PYTHON:-python3}"
mkdir -p "$out"
url_file="$(mktemp)"
"$python" "$here/consent_api.py" --port 0 --url-file "$url_file" &
api=$!
trap 'kill "$api" 2>/dev/null || true; wait "$api" 2>/dev/null || true; rm -f "$url_file"' EXIT
for _ in $(seq 50); do [ -s "$url_file" ] && break; sleep 0.1; done
export WSS_CONSENT_API_URL="$(cat "$url_file")"
export WSS_CONSENT_API_TOKEN=wss-demo-token
"$dossier" validate --config "$here/wss.yaml"
"$dossier" export --config "$here/wss.yaml" --email jonas.tamm@example.ee --out "$out"
