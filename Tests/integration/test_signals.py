"""Signals at any point (issue 11, item 4): SIGINT, SIGTERM and SIGHUP stop an export, a ledger
delivery and a batch leaving no `.partial` file, no staging folder and no program running; the
export exits 130 / 143 / 129 with one sentence, a batch stopped by a second signal 75. The moment
is chosen by a command source whose program hangs (so the staging folder exists, sources are open),
and at random moments of a real export."""
from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import assert_one_line_error
from ledger_helpers import Ledger, make_samples_copy
from test_command_source import command_map, running

ANNA = "anna@example.pl"


def leftovers(folder: Path) -> list[str]:
    if not folder.exists():
        return []
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")
                  if p.name.endswith(".partial") or p.name.startswith(".dossier-staging-") or p.name.startswith("dossier-"))


def wait_for(path: Path, limit: float = 20.0) -> None:
    deadline = time.monotonic() + limit
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


def start(dossier, *args, env=None) -> subprocess.Popen:
    return subprocess.Popen([dossier, *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "LMS_TOKEN": "x", **(env or {})})


@pytest.mark.parametrize("number,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_an_export_stopped_by_a_signal_leaves_nothing(dossier, tmp_path, number, code):
    config = command_map(tmp_path, "hang", timeout=60)
    out = tmp_path / "out"
    proc = start(dossier, "export", "--config", config, "--email", ANNA, "--out", out, "--request-id", "R1")
    wait_for(config.parent / "child.pid")          # the program runs: staging exists, sources are open
    assert [p.name for p in out.iterdir() if p.name.startswith(".dossier-staging-")], "no staging folder to clean"
    started = time.monotonic()
    proc.send_signal(number)
    stdout, stderr = proc.communicate(timeout=20)
    assert time.monotonic() - started < 5
    done = subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)
    assert_one_line_error(done, code, f"stopped by {signal.Signals(number).name}", "nothing half written is left")
    assert list(out.iterdir()) == []
    child = int((config.parent / "child.pid").read_text())
    time.sleep(0.2)
    assert not running(child), "the source's program outlived Dossier"


def test_a_delivery_stopped_by_a_signal_leaves_nothing_and_is_made_later(dossier, tmp_path):
    ledger = Ledger(dossier, make_samples_copy(tmp_path / "samples"))
    rids = []
    for i in range(8):
        rid, _ = ledger.open([("email", "zofia.wisniewska@example.pl")], "2026-11-02")
        ledger.verify(rid, "2026-11-02")
        rids.append(rid)
    rng = random.Random(11)
    for rid in rids:
        proc = ledger.popen("request", "fulfil", rid, "--today", "2026-11-03")
        time.sleep(rng.uniform(0.0, 0.6))          # at a random point of the delivery
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
        assert proc.returncode in (0, 143), proc.returncode
        names = ledger.archive_names()
        assert not [n for n in names if n.endswith(".partial") or n.startswith(".dossier-staging-")], names
        show = ledger.show(rid)
        # the archive and its row exist both or neither (a stop waits for a commit under way)
        assert (f"dossier-{rid}-copy1.zip" in names) == bool(show["deliveries"]), (names, show["deliveries"])
        if not show["deliveries"]:
            assert proc.returncode == 143
            ledger.fulfil(rid, "2026-11-03")        # the claim of the stopped process is taken over
        assert [d["copy"] for d in ledger.show(rid)["deliveries"]] == [1]
    ledger.check_each_delivered_once(rids)
    assert ledger.audit("verify").returncode == 0


def test_a_batch_stopped_by_two_signals_leaves_nothing(dossier, tmp_path):
    config = command_map(tmp_path, "hang", timeout=60)
    manifest = tmp_path / "people.csv"
    manifest.write_text("request_id,email\nS-1,anna@example.pl\nS-2,jan@example.pl\n", encoding="utf-8")
    out = tmp_path / "out"
    proc = start(dossier, "batch", "--config", config, "--requests", manifest, "--out", out, "--jobs", "2")
    wait_for(config.parent / "child.pid")
    proc.send_signal(signal.SIGTERM)               # the first asks to finish what is under way
    time.sleep(0.5)
    assert proc.poll() is None, "the first signal stopped the batch at once"
    proc.send_signal(signal.SIGTERM)               # the second stops at once
    stdout, stderr = proc.communicate(timeout=20)
    assert proc.returncode == 75, stderr
    assert "stopped at once" in stderr
    assert not [n for n in leftovers(out) if not n.startswith("dossier-") or n.endswith(".partial")]
    assert not [n for n in os.listdir(out) if n.endswith(".zip")]
    child = int((config.parent / "child.pid").read_text())
    time.sleep(0.2)
    assert not running(child), "the source's program outlived Dossier"
