"""The corpus of hostile and broken input (issue 11): every case under Tests/corpus (and under each
folder of the DOSSIER_CORPUS environment variable, colon-separated, for a corpus kept elsewhere) is
run through the CLI and must give its documented outcome.

A case is a folder with `case.yaml`:

    description: what is wrong with the input, and what must happen
    base: mini              # the small map of every source kind (conftest.build_mini), built first; or none
    files:                  # files written over the base, as text (UTF-8, newlines kept)
      lists.csv: "..."
    generate: |             # Python run in the case's folder afterwards (large or binary files)
      ...
    map: [[old, new], ...]  # replacements in mini.yaml, each of which must apply
    run: [export, --config, "{map}", --email, anna@example.pl, --out, "{out}"]   # the default
    timeout: 60             # seconds the run may take
    expect:
      exit: 66
      stderr: [source 'lists', line 3]     # in the one line on stderr (case-insensitive)
      stderr_absent: [secret]              # never on stderr (e.g. a source's content)
      records: {lists/subscribers: 1}      # per dataset, from the archive's manifest (exit 0)
      contains: {lists/subscribers.json: ['"1e400"']}   # texts in the bundle's files
      max_rss_mb: 150                      # peak memory of the run

Every run must also: never crash or print a trace; leave no `.partial` file or staging folder; and
leave no archive at all when it fails."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from conftest import REPO, build_mini, read_archive

CORPUS = REPO / "Tests" / "corpus"
DEFAULT_RUN = ["export", "--config", "{map}", "--email", "anna@example.pl", "--out", "{out}", "--request-id", "CORPUS-1",
               "--as-of", "2026-12-06T10:00:00Z"]
TRACES = ("Traceback", "Fatal error", "Stack dump", "backtrace", "0x0000", "Segmentation fault", "Illegal instruction")


def corpus_folders() -> list[Path]:
    folders = [CORPUS] + [Path(p) for p in os.environ.get("DOSSIER_CORPUS", "").split(":") if p]
    return [f for f in folders if f.is_dir()]


def cases() -> list[Path]:
    return sorted(p.parent for folder in corpus_folders() for p in folder.rglob("case.yaml"))


def case_id(path: Path) -> str:
    for folder in corpus_folders():
        if path.is_relative_to(folder):
            return str(path.relative_to(folder))
    return path.name


def test_the_corpus_is_large_enough():
    assert len([c for c in cases() if c.is_relative_to(CORPUS)]) >= 60


def run_with_rss(argv: list[str], cwd: Path, timeout: float) -> tuple[subprocess.CompletedProcess, float]:
    """Runs argv with its output in files, reaping it with os.wait4 to read its own peak memory (MB)."""
    out_path, err_path = cwd / ".corpus-stdout", cwd / ".corpus-stderr"
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        proc = subprocess.Popen(argv, cwd=cwd, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                proc.kill()
                os.wait4(proc.pid, 0)
                shown = " ".join(map(str, argv))
                pytest.fail(f"the run did not end within {timeout} s: {shown[:300]}{'…' if len(shown) > 300 else ''}")
            time.sleep(0.02)
        proc.returncode = os.waitstatus_to_exitcode(status)
    stdout = out_path.read_text(encoding="utf-8", errors="replace")
    stderr = err_path.read_text(encoding="utf-8", errors="replace")
    out_path.unlink()
    err_path.unlink()
    return subprocess.CompletedProcess(argv, proc.returncode, stdout, stderr), usage.ru_maxrss / 1024


@pytest.mark.parametrize("case", cases(), ids=case_id)
def test_case(dossier, case, tmp_path):
    spec = yaml.safe_load((case / "case.yaml").read_text(encoding="utf-8"))
    assert isinstance(spec, dict) and spec.get("description") and isinstance(spec.get("expect"), dict), \
        f"{case}/case.yaml needs description and expect"
    expect = spec["expect"]
    work = tmp_path / "case"
    if spec.get("base", "mini") == "mini":
        build_mini(work)
    else:
        work.mkdir()
    for item in case.iterdir():
        if item.name != "case.yaml":
            (shutil.copytree if item.is_dir() else shutil.copy)(item, work / item.name)
    for name, text in (spec.get("files") or {}).items():
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        (work / name).write_text(text, encoding="utf-8", newline="")
    if spec.get("map"):
        map_file = work / "mini.yaml"
        text = map_file.read_text(encoding="utf-8")
        for old, new in spec["map"]:
            assert old in text, f"{case_id(case)}: the map holds no {old!r}"
            text = text.replace(old, new)
        map_file.write_text(text, encoding="utf-8")
    if spec.get("generate"):
        gen = subprocess.run([sys.executable, "-c", spec["generate"]], cwd=work, capture_output=True, text=True, timeout=300)
        assert gen.returncode == 0, f"{case_id(case)}: generate failed: {gen.stderr}"

    out = tmp_path / "out"
    argv = [dossier] + [str(a).replace("{map}", str(work / "mini.yaml")).replace("{out}", str(out)).replace("{dir}", str(work))
                        for a in spec.get("run", DEFAULT_RUN)]
    proc, rss = run_with_rss(argv, work, float(spec.get("timeout", 60)))

    where = f"{case_id(case)}: {spec['description'].strip()}\nstdout: {proc.stdout[-2000:]}\nstderr: {proc.stderr[-2000:]}"
    for trace in TRACES:
        assert trace not in proc.stderr, f"a trace on stderr\n{where}"
    assert proc.returncode == expect["exit"], f"exit {proc.returncode}, expected {expect['exit']}\n{where}"
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    if expect["exit"] != 0:
        assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}\n{where}"
        assert lines[0].startswith("dossier: "), where
    for text in expect.get("stderr", []):
        assert lines and str(text).lower() in lines[-1].lower(), f"{text!r} not on stderr\n{where}"
    for text in expect.get("stderr_absent", []):
        assert str(text) not in proc.stderr, f"{text!r} must not appear on stderr\n{where}"
    if "max_rss_mb" in expect:
        assert rss <= expect["max_rss_mb"], f"peak memory {rss:.0f} MB, more than {expect['max_rss_mb']} MB\n{where}"

    left = sorted(p.name for p in out.rglob("*")) if out.exists() else []
    assert not [n for n in left if n.endswith(".partial") or n.startswith(".dossier-staging-")], f"leftovers {left}\n{where}"
    archives = [p for p in out.iterdir() if p.is_file() and not p.name.startswith(".")] if out.exists() else []
    if expect["exit"] != 0:
        assert archives == [], f"a failed run left {archives}\n{where}"
        return
    if "records" in expect or "contains" in expect:
        assert len(archives) == 1, f"expected one archive, found {archives}\n{where}"
        entries = read_archive(archives[0])
        manifest = json.loads(entries["manifest.json"])
        counts = {f"{d['source']}/{d['dataset']}": d["count"] for d in manifest["datasets"]}
        for dataset, count in (expect.get("records") or {}).items():
            assert counts.get(dataset) == count, f"{dataset}: {counts.get(dataset)} records, expected {count}\n{where}"
        for name, texts in (expect.get("contains") or {}).items():
            matching = [n for n in entries if n.endswith(name)]
            assert matching, f"no file {name} in the bundle ({sorted(entries)})\n{where}"
            body = entries[matching[0]].decode("utf-8", "replace")
            for text in texts:
                assert text in body, f"{text!r} not in {matching[0]}\n{where}"
