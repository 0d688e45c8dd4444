"""Direct transmission (issue 10, item 6; Art. 20(2)), on both ledger backends: `request transmit`
POSTs a portability copy over HTTPS to a receiver these tests start on 127.0.0.1 (its certificate
signed by a throw-away authority made here with openssl), with a bearer token from the environment,
the archive's SHA-256 as Content-Digest and an idempotency key. The receiver keeps what it accepted
by key, as a real one would. Checked: the bytes that arrive are the recorded archive; the answer and
its hash are in the ledger and the audit chain; a lost answer is retried with the same key and the
receiver stores the archive once; a second run sends nothing; no retry makes a second copy; plain
http, redirects, refusals, a damaged archive and an untrusted certificate each fail in one sentence."""
from __future__ import annotations

import base64
import hashlib
import json
import socket
import ssl
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from conftest import assert_one_line_error
from ledger_helpers import Ledger, sha256_file, samples_ledger

ZOFIA = "zofia.wisniewska@example.pl"
TOKEN = "receiver-t0ken/+="
TOKEN_VARIABLE = "DOSSIER_TEST_RECEIVER_TOKEN"


def openssl(*args, cwd):
    proc = subprocess.run(["openssl", *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


class Receiver(BaseHTTPRequestHandler):
    """Another controller's import endpoint. Keeps every call, and the archives it accepted by key."""
    calls: list = []
    accepted: dict = {}        # idempotency key -> (sha256 of the body, receipt)
    seen: dict = {}            # (path, key) -> calls so far
    answers: list = []         # the bytes of every 2xx answer sent

    def log_message(self, *args):
        pass

    def reply(self, status, obj=None, headers=()):
        body = json.dumps(obj).encode() if obj is not None else b""
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        if 200 <= status < 300:
            Receiver.answers.append(body)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        key = self.headers.get("Idempotency-Key")
        digest = hashlib.sha256(body).digest()
        Receiver.calls.append({"path": self.path, "key": key, "sha256": digest.hex(), "size": len(body),
                               "headers": dict(self.headers)})
        n = Receiver.seen[(self.path, key)] = Receiver.seen.get((self.path, key), 0) + 1
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            return self.reply(401, {"error": "who are you"})
        if not key:
            return self.reply(400, {"error": "an Idempotency-Key is required"})
        if self.headers.get("Content-Digest") != f"sha-256=:{base64.b64encode(digest).decode()}:":
            return self.reply(400, {"error": "the body does not match its digest"})
        if self.path == "/reject":
            return self.reply(422, {"error": "we take JSON only"})
        if self.path == "/moved":
            return self.reply(307, None, [("Location", "/import")])
        if self.path == "/down":
            return self.reply(503, {"error": "maintenance"}, [("Retry-After", "0")])
        if self.path == "/busy" and n <= 2:
            return self.reply(503 if n == 1 else 429, {"error": "busy"}, [("Retry-After", "0")])
        if key in Receiver.accepted:
            return self.reply(200, {"receipt": Receiver.accepted[key][1], "duplicate": True})
        receipt = f"RCPT-{len(Receiver.accepted) + 1}"
        Receiver.accepted[key] = (digest.hex(), receipt)
        if self.path == "/lost" and n == 1:
            # took the archive, then the connection drops before any answer
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        return self.reply(201, {"receipt": receipt, "sha256": digest.hex(), "bytes": len(body)})


@pytest.fixture(scope="module")
def receiver(tmp_path_factory):
    """The receiver over HTTPS on 127.0.0.1: (base address, the authority's PEM, another authority's PEM)."""
    folder = tmp_path_factory.mktemp("receiver-tls")
    for name in ("ca", "other-ca"):
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN=dossier test {name}",
                "-keyout", f"{name}.key", "-out", f"{name}.pem", cwd=folder)
    (folder / "san.ext").write_text("subjectAltName = IP:127.0.0.1\n")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", "server.key", "-out", "server.csr", cwd=folder)
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2",
            "-extfile", "san.ext", "-out", "server.pem", cwd=folder)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(folder / "server.pem", folder / "server.key")
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{server.server_address[1]}", folder / "ca.pem", folder / "other-ca.pem"
    server.shutdown()


@pytest.fixture(params=["sqlite", "postgres"])
def ledger(request, dossier, tmp_path) -> Ledger:
    # a fresh receiver for each test: the same request id, copy and archive (the runs of two backends
    # in the same second) would otherwise give the same key, which the receiver already took
    Receiver.calls.clear()
    Receiver.accepted.clear()
    Receiver.seen.clear()
    Receiver.answers.clear()
    return samples_ledger(request, dossier, tmp_path / "samples")


def transmit(ledger: Ledger, rid: str, address: str, ca: Path | None, *extra, token=TOKEN):
    argv = ["request", "transmit", rid, "--to", address, "--today", "2026-11-03"]
    if ca:
        argv += ["--ca-file", str(ca)]
    if token is not None:
        argv += ["--token-env", TOKEN_VARIABLE]
    env = ledger.env()
    if token is not None:
        env[TOKEN_VARIABLE] = token
    return subprocess.run(ledger.argv(*argv, *extra), cwd=ledger.root, capture_output=True, text=True, timeout=300, env=env)


def portability(ledger: Ledger, verified=True) -> str:
    rid, _ = ledger.open([("email", ZOFIA)], "2026-11-02", kind="portability")
    if verified:
        ledger.verify(rid, "2026-11-02")
    return rid


def audit_rows(ledger: Ledger, *actions) -> list[dict]:
    rows = [json.loads(line) for line in ledger.audit("export").stdout.splitlines()]
    return [r for r in rows if r["action"] in actions]


def test_accepted_recorded_and_not_sent_again(ledger, receiver):
    base, ca, _ = receiver
    rid = portability(ledger)
    proc = transmit(ledger, rid, f"{base}/import?source=dossier", ca)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("copy 1 delivered, fee 0.00"), lines          # copy 1 was made for it
    assert lines[-1].startswith(f"transmitted: {rid} copy 1 to 127.0.0.1: accepted (201) after 1 attempt(s); answer sha256 ")

    show = ledger.show(rid)
    [delivery] = show["deliveries"]
    archive = ledger.delivery_path(delivery)
    [call] = Receiver.calls
    # what arrived is the archive the ledger recorded, byte for byte, announced as such
    assert (call["sha256"], call["size"]) == (sha256_file(archive), archive.stat().st_size) == (delivery["sha256"], delivery["size"])
    assert call["headers"]["Content-Type"] == "application/zip"
    assert call["headers"]["Content-Disposition"] == f'attachment; filename="{archive.name}"'
    [t] = show["transmissions"]
    assert t["accepted"] is True and t["status"] == 201 and t["attempts"] == 1 and t["copy"] == 1 and t["error"] is None
    assert t["destination"] == f"{base}/import"                                 # the query is not kept
    assert t["idempotency_key"] == call["key"] and t["idempotency_key"].startswith("dossier-")
    answer = Receiver.answers[-1]
    assert t["response_sha256"] == hashlib.sha256(answer).hexdigest() and t["response_size"] == len(answer)
    assert json.loads(t["response"])["receipt"] == Receiver.accepted[call["key"]][1]
    assert lines[-1].endswith(t["response_sha256"])

    # in the audit chain: the host, the key and the hashes, never the path or a person's data
    [row] = audit_rows(ledger, "transmitted")
    assert row["request_id"] == rid
    assert row["detail"] == {"copy": "1", "host": "127.0.0.1", "idempotency_key": t["idempotency_key"], "attempts": "1",
                             "status": "201", "response_sha256": t["response_sha256"]}
    assert ledger.audit("verify").returncode == 0

    # again: nothing is sent, nothing is made
    proc = transmit(ledger, rid, f"{base}/import", ca)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        f"already transmitted: {rid} copy 1 was accepted by 127.0.0.1 on {t['at']} (201); nothing was sent again"]
    assert len(Receiver.calls) == 1
    again = ledger.show(rid)
    assert len(again["deliveries"]) == 1 and len(again["transmissions"]) == 1
    assert ledger.archive_names() == [archive.name]


def test_a_lost_answer_is_retried_with_the_same_key_and_nothing_is_doubled(ledger, receiver):
    base, ca, _ = receiver
    rid = portability(ledger)
    ledger.fulfil(rid, "2026-11-02")
    proc = transmit(ledger, rid, f"{base}/lost", ca)
    assert proc.returncode == 0, proc.stderr
    assert "accepted (200) after 2 attempt(s)" in proc.stdout        # the receiver recognised the retry
    calls = [c for c in Receiver.calls if c["path"] == "/lost"]
    assert len(calls) == 2 and calls[0]["key"] == calls[1]["key"] and calls[0]["sha256"] == calls[1]["sha256"]
    assert sum(1 for k in Receiver.accepted if k == calls[0]["key"]) == 1
    show = ledger.show(rid)
    assert [d["copy"] for d in show["deliveries"]] == [1]
    assert json.loads(show["transmissions"][0]["response"])["duplicate"] is True


def test_a_busy_receiver_then_one_that_stays_down(ledger, receiver):
    base, ca, _ = receiver
    rid = portability(ledger)
    proc = transmit(ledger, rid, f"{base}/busy", ca)
    assert proc.returncode == 0, proc.stderr
    assert "accepted (201) after 3 attempt(s)" in proc.stdout          # 503, 429 (Retry-After: 0), then 201

    other = portability(ledger)
    proc = transmit(ledger, other, f"{base}/down", ca)
    assert_one_line_error(proc, 75, "127.0.0.1", "503", "5 times")
    assert sum(1 for c in Receiver.calls if c["path"] == "/down") == 5
    [t] = ledger.show(other)["transmissions"]
    assert (t["accepted"], t["status"], t["attempts"]) == (False, 503, 5) and "503" in t["error"]
    assert [r["detail"]["status"] for r in audit_rows(ledger, "transmission_failed")] == ["503"]
    # run again, to a receiver that answers: the copy made the first time is the one sent
    proc = transmit(ledger, other, f"{base}/import", ca)
    assert proc.returncode == 0, proc.stderr
    show = ledger.show(other)
    assert [d["copy"] for d in show["deliveries"]] == [1]
    assert [t["accepted"] for t in show["transmissions"]] == [False, True]
    assert len({t["idempotency_key"] for t in show["transmissions"]}) == 2   # another destination, another key


def test_what_is_refused(ledger, receiver, tmp_path):
    base, ca, other_ca = receiver
    rid = portability(ledger)
    # plain http, credentials in the address, no address at all: nothing is made, nothing sent
    for address, must in ((base.replace("https", "http") + "/import", "https://"),
                          (base.replace("https://", "https://user:pw@") + "/import", "credentials"),
                          ("not an address", "https://")):
        assert_one_line_error(transmit(ledger, rid, address, ca), 64, must)
    assert_one_line_error(transmit(ledger, rid, f"{base}/import", tmp_path / "nowhere.pem"), 64, "authority file")
    assert ledger.show(rid)["deliveries"] == [] and Receiver.calls == []
    # an access request, and an unverified portability request
    access, _ = ledger.open([("email", ZOFIA)], "2026-11-02")
    ledger.verify(access, "2026-11-02")
    assert_one_line_error(transmit(ledger, access, f"{base}/import", ca), 65, "portability")
    unverified = portability(ledger, verified=False)
    assert_one_line_error(transmit(ledger, unverified, f"{base}/import", ca), 65, "not verified")
    assert Receiver.calls == []
    # a receiver that refuses, one that redirects, a wrong token: each recorded, none retried
    assert_one_line_error(transmit(ledger, rid, f"{base}/reject", ca), 65, "refused the archive", "422")
    assert_one_line_error(transmit(ledger, rid, f"{base}/moved", ca), 65, "redirect")
    assert_one_line_error(transmit(ledger, rid, f"{base}/import", ca, token="wrong"), 65, "credentials", "401")
    assert [c["path"] for c in Receiver.calls] == ["/reject", "/moved", "/import"]
    show = ledger.show(rid)
    assert [(t["accepted"], t["status"]) for t in show["transmissions"]] == [(False, 422), (False, 307), (False, 401)]
    assert json.loads(show["transmissions"][0]["response"]) == {"error": "we take JSON only"}
    # a certificate signed by an authority Dossier was not told to trust
    assert_one_line_error(transmit(ledger, rid, f"{base}/import", other_ca), 73, "certificate")
    assert_one_line_error(transmit(ledger, rid, f"{base}/import", None), 73, "certificate")
    assert len(Receiver.calls) == 3
    # an archive changed on disk since it was recorded is not sent
    archive = ledger.delivery_path(show["deliveries"][0])
    archive.write_bytes(archive.read_bytes() + b"\0")
    assert_one_line_error(transmit(ledger, rid, f"{base}/import", ca), 65, "not the one the ledger recorded")
    archive.unlink()
    assert_one_line_error(transmit(ledger, rid, f"{base}/import", ca), 73, "not there")
    assert len(Receiver.calls) == 3
    assert [d["copy"] for d in ledger.show(rid)["deliveries"]] == [1]
    assert ledger.audit("verify").returncode == 0


def test_a_missing_token_variable_is_named(ledger, receiver):
    base, ca, _ = receiver
    rid = portability(ledger)
    proc = subprocess.run(ledger.argv("request", "transmit", rid, "--to", f"{base}/import", "--ca-file", str(ca),
                                      "--token-env", "DOSSIER_TEST_NO_SUCH_VARIABLE"),
                          cwd=ledger.root, capture_output=True, text=True, timeout=60, env=ledger.env())
    assert_one_line_error(proc, 64, "DOSSIER_TEST_NO_SUCH_VARIABLE")
    assert Receiver.calls == [] and ledger.show(rid)["deliveries"] == []


def test_a_receiver_that_cannot_be_reached(ledger, receiver):
    _, ca, _ = receiver
    with socket.socket() as s:                     # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    rid = portability(ledger)
    proc = transmit(ledger, rid, f"https://127.0.0.1:{port}/import", ca)
    assert_one_line_error(proc, 75, "127.0.0.1", "refused the connection")
    [t] = ledger.show(rid)["transmissions"]
    assert (t["accepted"], t["status"], t["attempts"], t["response_sha256"]) == (False, None, 5, None)
    assert [d["copy"] for d in ledger.show(rid)["deliveries"]] == [1]      # the copy stays, for the next try
    [row] = audit_rows(ledger, "transmission_failed")
    assert "status" not in row["detail"] and row["detail"]["attempts"] == "5"
