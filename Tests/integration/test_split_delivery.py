"""`--split-size` on ledger deliveries (issue 10, item 9), on both ledger backends: a copy split
into parts is recorded part by part (path, SHA-256, size), the delivery's sha256 is the hash of the
parts' list as `sha256sum -c` reads it, each part opens on its own, the parts together are the
bundle an unsplit copy holds, and purge deletes every part."""
from __future__ import annotations

import hashlib
import json
import subprocess
import zipfile

import pytest

from conftest import data_files, read_archive
from ledger_helpers import Ledger, sha256_file, samples_ledger

ZOFIA = "zofia.wisniewska@example.pl"


@pytest.fixture(params=["sqlite", "postgres"])
def split_ledger(request, dossier, tmp_path) -> Ledger:
    return samples_ledger(request, dossier, tmp_path / "samples")


def delivered_paths(proc) -> list[str]:
    """The paths a fulfil or an accepted copy printed after its summary line."""
    lines = proc.stdout.splitlines()
    head = next(i for i, line in enumerate(lines) if line.startswith("copy "))
    return lines[head + 1:]


def test_split_copy_records_every_part(split_ledger, tmp_path):
    ledger = split_ledger
    rid, _ = ledger.open([("email", ZOFIA)], "2026-11-02")
    ledger.verify(rid, "2026-11-02")
    proc = ledger.request("fulfil", rid, "--today", "2026-11-02", "--split-size", "20K", "--expires", "7d")
    assert proc.returncode == 0, proc.stderr
    paths = delivered_paths(proc)
    assert len(paths) >= 3, proc.stdout
    assert f"copy 1 delivered in {len(paths)} parts" in proc.stdout
    assert [p.rsplit("/", 1)[1] for p in paths] == [f"dossier-{rid}-copy1.part{i}.zip" for i in range(1, len(paths) + 1)]

    d = ledger.show(rid)["deliveries"][0]
    assert d["path"] == paths[0]
    assert [p["path"] for p in d["parts"]] == paths
    for part in d["parts"]:
        assert part["sha256"] == sha256_file(ledger.delivery_path(part)), part["path"]
        assert part["size"] == ledger.delivery_path(part).stat().st_size
    assert d["size"] == sum(p["size"] for p in d["parts"])
    listing = "".join(f"{p['sha256']}  {p['path'].rsplit('/', 1)[1]}\n" for p in d["parts"])
    assert d["sha256"] == hashlib.sha256(listing.encode()).hexdigest()
    # the list the hash covers is checked by sha256sum itself in the archives folder
    (tmp_path / "parts.sha256").write_text(listing)
    check = subprocess.run(["sha256sum", "-c", str(tmp_path / "parts.sha256")], cwd=ledger.delivery_path(d["parts"][0]).parent,
                           capture_output=True, text=True)
    assert check.returncode == 0 and check.stdout.count(": OK") == len(paths), check.stdout + check.stderr

    # each part opens on its own; together they are the whole bundle, as an unsplit copy holds it
    together: dict[str, bytes] = {}
    for path in paths:
        with zipfile.ZipFile(path) as z:
            assert z.testzip() is None
        entries = read_archive(ledger.delivery_path({"path": path}))
        assert not set(entries) & set(together), f"{path} repeats entries"
        together.update(entries)
    assert {"manifest.json", "SHA256SUMS", "index.html", "information.json"} <= set(together)
    sums = dict(reversed(line.split("  ", 1)) for line in together["SHA256SUMS"].decode().splitlines())
    assert set(sums) == set(together) - {"SHA256SUMS"}
    assert all(hashlib.sha256(together[name]).hexdigest() == digest for name, digest in sums.items())

    # the audit row of the delivery counts the parts, and the chain holds
    delivered = [json.loads(line) for line in ledger.audit("export").stdout.splitlines()
                 if json.loads(line)["action"] == "delivered"]
    assert [(r["detail"]["parts"], r["detail"]["sha256"], r["detail"]["size"]) for r in delivered] == [
        (str(len(paths)), d["sha256"], str(d["size"]))]
    assert ledger.audit("verify").returncode == 0

    # a further copy, unsplit, keeps the first copy's parts; its data are the same
    proc = ledger.request("copy", rid, "--accept-fee", "--today", "2026-11-03")
    assert proc.returncode == 0, proc.stderr
    second = ledger.archive_of(proc)
    assert ledger.show(rid)["deliveries"][1]["parts"] == []
    assert data_files(read_archive(second)) == data_files(together)
    names = ledger.archive_names()
    assert [n for n in names if n.startswith(f"dossier-{rid}-copy1.")] == sorted(p.rsplit("/", 1)[1] for p in paths)

    # purge deletes every part of the expired copy, and only that copy
    proc = ledger.run("purge", "--today", "2026-11-10")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1] == "purge: 1 archive deleted"
    assert not any(ledger.delivery_path({"path": p}).exists() for p in paths)
    assert second.exists()
    assert ledger.show(rid)["deliveries"][0]["purged_at"].startswith("2026-11-10")


def test_split_size_refused_when_malformed(split_ledger):
    ledger = split_ledger
    rid, _ = ledger.open([("email", ZOFIA)], "2026-11-02")
    ledger.verify(rid, "2026-11-02")
    proc = ledger.request("fulfil", rid, "--today", "2026-11-02", "--split-size", "20X")
    assert proc.returncode == 64, proc.stderr
    assert "--split-size" in proc.stderr
    assert ledger.show(rid)["deliveries"] == [] and ledger.archive_names() == []
