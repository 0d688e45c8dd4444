"""The second sample company (issue 10, item 3): WSS, a software company whose person is found through
a CSV registration export, a JSON Lines access log, a consent platform's HTTP API (served on 127.0.0.1
by Samples/wss/consent_api.py) and a helpdesk script (kind: command); the bundle names the transfer
basis of each recipient outside the EEA; its map requires review before release and lets copies
expire after 30 days, on the Estonian calendar."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import zipfile
from pathlib import Path

from conftest import REPO

WSS = REPO / "Samples" / "wss"
JONAS = "jonas.tamm@example.ee"


def demo(dossier, out: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", WSS / "demo.sh"], capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, DOSSIER=dossier, OUT=str(out), PYTHON=sys_python()))


def sys_python() -> str:
    import sys
    return sys.executable


def test_the_demo_exports_the_person_from_all_four_sources(dossier, tmp_path):
    proc = demo(dossier, tmp_path / "out")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == ("deadlines: public holidays of EE (2020–2045, from holidays 0.109), "
                        "chosen by controller.supervisory_authority.country")
    with zipfile.ZipFile(lines[-1]) as z:
        manifest = json.loads(z.read("manifest.json"))
        info = json.loads(z.read("information.json"))
        tickets = json.loads(z.read("data/helpdesk/tickets.json"))["records"]
        cookies = json.loads(z.read("data/consents/cookies.json"))["records"]
        page = z.read("index.html").decode("utf-8")
    counts = {(d["source"], d["dataset"]): d["count"] for d in manifest["datasets"]}
    assert counts == {("registrations", "accounts"): 1, ("weblogs", "visits"): 4, ("consents", "cookies"): 5,
                      ("helpdesk", "tickets"): 2}
    # the namesake (another Jonas Tamm, registration R-1004) is not found
    assert "R-1004" not in json.dumps(manifest)
    assert [c["id"] for c in cookies] == ["c-501", "c-502", "c-503", "c-504", "c-505"]   # three pages of the API
    assert {t["ticket"] for t in tickets} == {"HD-2291", "HD-2340"}
    assert all(t["agent"] == "[withheld: third-party data]" for t in tickets)
    bases = {r["id"]: r.get("transfer_basis") for r in info["recipients"]}
    assert bases["hosting_us"]["decision"] == "Commission Implementing Decision (EU) 2023/1795"
    assert bases["hosting_ca"]["decision"] == "Commission Decision 2002/2/EC"
    assert bases["antispam"] == {"article": "46", "kind": "safeguard",
                                 "safeguard": "Standard contractual clauses (Commission Implementing Decision (EU) 2021/914)"}
    assert all(p["legal_basis"] == "consent" for p in info["purposes"])
    assert "Basis for the transfer" in page


def test_the_ledger_requires_review_and_copies_expire(dossier, tmp_path):
    copy = tmp_path / "wss"
    shutil.copytree(WSS, copy, ignore=shutil.ignore_patterns("ledger", "__pycache__"))
    url_file = tmp_path / "api.url"
    api = subprocess.Popen([sys_python(), copy / "consent_api.py", "--port", "0", "--url-file", url_file])
    try:
        for _ in range(100):
            if url_file.exists() and url_file.read_text().strip():
                break
            import time
            time.sleep(0.05)
        env = dict(os.environ, WSS_CONSENT_API_URL=url_file.read_text().strip(), WSS_CONSENT_API_TOKEN="wss-demo-token")

        def dossier_run(*args):
            return subprocess.run([dossier, *map(str, args), "--config", copy / "wss.yaml"], capture_output=True, text=True,
                                  timeout=120, env=env, cwd=copy)
        opened = dossier_run("request", "open", "--kind", "access", "--email", JONAS, "--received", "2026-12-18",
                             "--today", "2026-12-18")
        rid = opened.stdout.strip().splitlines()[-1]
        # 18 January 2027 is a Monday; the Estonian calendar has no holiday then
        assert "answer due by 2027-01-18" in opened.stdout
        assert dossier_run("request", "verify", rid, "--method", "signed-in account", "--by", "K. Saar",
                           "--today", "2026-12-18").returncode == 0
        assert dossier_run("request", "fulfil", rid, "--today", "2026-12-19").returncode == 65
        review = dossier_run("request", "review", rid, "--today", "2026-12-19")
        assert review.returncode == 0, review.stderr
        assert review.stdout.splitlines()[0] == f"review: {rid}: 12 records in 4 of 4 datasets"
        assert dossier_run("request", "approve", rid, "--by", "DPO", "--today", "2026-12-19").returncode == 0
        fulfil = dossier_run("request", "fulfil", rid, "--today", "2026-12-19")
        assert fulfil.returncode == 0, fulfil.stderr
        archive = Path(fulfil.stdout.strip().splitlines()[-1])
        show = json.loads(dossier_run("request", "show", rid, "--json").stdout)
        assert show["deliveries"][0]["expires_on"] == "2027-01-18"
        purge = dossier_run("purge", "--today", "2027-01-19")
        assert purge.stdout.splitlines()[-1] == "purge: 1 archive deleted" and not archive.exists()
    finally:
        api.terminate()
        api.wait(timeout=10)
