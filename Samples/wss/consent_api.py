#!/usr/bin/env python3
"""The consent platform's API for the WSS sample (a `kind: http` source of wss.yaml), served on
127.0.0.1 from consent/records.json: GET /v1/consents?email=ADDRESS&page=N with a bearer token,
two records a page, {"data": [...], "next": "/v1/consents?...&page=N+1" or null}. Like a real
platform it throttles and fails now and then: the first request for each person's first page is
answered 429 and the first for any later page 503, both with Retry-After: 0, so every export
exercises paging, throttling and retries.

    python3 Samples/wss/consent_api.py --port 0 --url-file api.url   # prints nothing; writes its URL

Standard library only; it stops on SIGTERM or SIGINT."""
import argparse
import json
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, quote, urlparse

RECORDS = json.loads((Path(__file__).resolve().parent / "consent" / "records.json").read_text(encoding="utf-8"))["subjects"]
TOKEN = "wss-demo-token"
PAGE = 2
SEEN: set = set()
SEEN_LOCK = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def reply(self, status, body, headers=()):
        data = json.dumps(body).encode()
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            return self.reply(401, {"error": "unauthorized"})
        url = urlparse(self.path)
        if url.path != "/v1/consents":
            return self.reply(404, {"error": "not found"})
        query = parse_qs(url.query)
        email = query.get("email", [""])[0]
        page = int(query.get("page", ["1"])[0])
        with SEEN_LOCK:
            first = (email, page) not in SEEN
            SEEN.add((email, page))
        if first:
            return self.reply(429 if page == 1 else 503, {"error": "try again"}, [("Retry-After", "0")])
        records = RECORDS.get(email, [])
        chunk = records[(page - 1) * PAGE:page * PAGE]
        more = page * PAGE < len(records)
        nxt = f"/v1/consents?email={quote(email, safe='')}&page={page + 1}" if more else None
        return self.reply(200, {"data": chunk, "next": nxt})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--url-file", required=True)
    args = ap.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    Path(args.url_file).write_text(f"http://127.0.0.1:{server.server_address[1]}\n", encoding="utf-8")
    stop = lambda *_: threading.Thread(target=server.shutdown).start()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
