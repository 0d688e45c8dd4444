"""`kind: command` (issue 10, item 2): an external program asked once per lookup with
{"dataset", "kind", "value", "lookup"} on stdin, its JSON Lines on stdout taken as records; arguments
as a list (no shell), a time limit, the exit code checked, stderr (cut short) in the error, and an
environment holding only what the map names. Each failure is one sentence (exit 66) and no archive."""
from __future__ import annotations

import json
import os
import sys
import textwrap
import time
from pathlib import Path

import pytest

from conftest import MINI_MAP, assert_one_line_error, build_mini, data_files, read_archive, run

EX_NOINPUT = 66
ANNA = "anna@example.pl"

PROGRAM = textwrap.dedent("""\
    import json, os, sys, time
    request = json.loads(sys.stdin.read())
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "seen.jsonl"), "a") as f:
        f.write(json.dumps({"request": request, "argv": sys.argv[1:], "env": sorted(os.environ),
                            "token": os.environ.get("LMS_TOKEN"), "cwd": os.getcwd()}) + "\\n")
    mode = sys.argv[1]
    if mode == "ok":
        if request["value"] == "anna@example.pl":
            print(json.dumps({"course": "GDPR basics", "email": request["value"], "score": 12345678901234567890}))
            print()
            print(json.dumps({"course": "Zażółć gęślą jaźń", "email": request["value"], "passed": True}))
    elif mode == "fail":
        sys.stderr.write("boom: the LMS refused the token\\nsecond line\\n" + "x" * 5000)
        sys.exit(3)
    elif mode == "hang":
        pid = os.fork()
        if pid == 0:
            time.sleep(1000)
        with open(os.path.join(here, "child.pid"), "w") as f:
            f.write(str(pid))
        time.sleep(1000)
    elif mode == "garbage":
        print(json.dumps({"course": "ok"}))
        print("{not json")
    elif mode == "array":
        print("[1, 2]")
    """)


# The interpreter by its path: a `python3` found on PATH may be a pyenv shim, a shell script that adds
# variables of its own to the program's environment.
INTERPRETER = f"[{sys.executable}, lms.py"


def command_map(tmp_path, args, environment="[LMS_TOKEN]", timeout=10, program=INTERPRETER):
    block = textwrap.dedent(f"""\
      lms:
        kind: command
        command: {program}, {args}]
        environment: {environment}
        timeout: {timeout}
        datasets:
          courses:
            lookup: {{ email: courses-by-email }}
            purposes: [service]
            retention: {{ period: P1Y }}
            origin: subject
    """)
    block = "".join("  " + line + "\n" for line in block.splitlines())
    assert MINI_MAP.count("\nsources:\n") == 1
    text = MINI_MAP.replace("\nsources:\n", "\nsources:\n" + block, 1)
    config = build_mini(tmp_path / "m", map_text=text)
    (config.parent / "lms.py").write_text(PROGRAM, encoding="utf-8")
    return config


def export(dossier, config, out, env=None):
    out.mkdir(exist_ok=True)
    return run_env(dossier, env, "export", "--config", config, "--email", ANNA, "--out", out,
                   "--request-id", "R1", "--as-of", "2026-12-06T10:00:00Z")


def run_env(dossier, env, *args):
    import subprocess
    return subprocess.run([dossier, *map(str, args)], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})})


def seen(config) -> list[dict]:
    path = config.parent / "seen.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []


def test_records_from_a_program(dossier, tmp_path):
    config = command_map(tmp_path, "ok")
    env = {"LMS_TOKEN": "s3cret", "OTHER_SECRET": "must-not-pass"}
    proc = run_env(dossier, env, "validate", "--config", config)
    assert proc.returncode == 0, proc.stderr
    assert seen(config) == [], "validate ran the program"
    proc = export(dossier, config, tmp_path / "out", env)
    assert proc.returncode == 0, proc.stderr
    entries = read_archive(Path(proc.stdout.strip().splitlines()[-1]))
    records = json.loads(data_files(entries)[("lms", "courses")]["json"])
    records = records["records"] if isinstance(records, dict) else records
    assert [r["course"] for r in records] == ["GDPR basics", "Zażółć gęślą jaźń"]
    # a 20-digit integer keeps its digits
    assert b"12345678901234567890" in data_files(entries)[("lms", "courses")]["json"]
    manifest = json.loads(entries["manifest.json"])
    counts = {(d["source"], d["dataset"]): d["count"] for d in manifest["datasets"]}
    assert counts[("lms", "courses")] == 2
    calls = seen(config)
    assert calls, "the program was not run"
    assert calls[0]["request"] == {"dataset": "courses", "kind": "email", "value": ANNA, "lookup": "courses-by-email"}
    assert calls[0]["argv"] == ["ok"]
    # only the variables the map names (Python adds LC_CTYPE itself in a C locale: PEP 538)
    assert all([k for k in c["env"] if k != "LC_CTYPE"] == ["LMS_TOKEN"] for c in calls), calls[0]["env"]
    assert calls[0]["token"] == "s3cret"
    assert Path(calls[0]["cwd"]).resolve() == config.parent.resolve()
    # one run per lookup: every e-mail the resolution found, each once
    values = [c["request"]["value"] for c in calls]
    assert len(values) == len(set(values))


def test_a_program_that_fails_is_named_with_its_stderr(dossier, tmp_path):
    config = command_map(tmp_path, "fail", program="[python3, lms.py")   # found on PATH
    out = tmp_path / "out"
    proc = export(dossier, config, out, {"LMS_TOKEN": "x"})
    line = assert_one_line_error(proc, EX_NOINPUT, "source 'lms'", "dataset 'courses'", "exited with code 3",
                                 "boom: the LMS refused the token second line")
    assert len(line) < 700, "stderr is not cut short"
    assert list(out.iterdir()) == []


def test_a_program_that_hangs_is_stopped_with_what_it_started(dossier, tmp_path):
    config = command_map(tmp_path, "hang", timeout=1)
    out = tmp_path / "out"
    started = time.monotonic()
    proc = export(dossier, config, out, {"LMS_TOKEN": "x"})
    assert time.monotonic() - started < 15
    assert_one_line_error(proc, EX_NOINPUT, "source 'lms'", "did not finish within 1 s")
    assert list(out.iterdir()) == []
    child = int((config.parent / "child.pid").read_text())
    time.sleep(0.2)
    assert not running(child), f"the program's child {child} outlived it"


def running(pid: int) -> bool:
    """Alive and not a zombie (a killed orphan stays a zombie until whoever adopted it reaps it)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    state = next(line for line in status.splitlines() if line.startswith("State:"))
    return "zombie" not in state and "(Z)" not in state


@pytest.mark.parametrize("mode,must", [
    ("garbage", "line 2 of the program's output is not JSON"),
    ("array", "line 1 of the program's output is not a JSON object"),
])
def test_output_that_is_not_records(dossier, tmp_path, mode, must):
    config = command_map(tmp_path, mode)
    out = tmp_path / "out"
    assert_one_line_error(export(dossier, config, out, {"LMS_TOKEN": "x"}), EX_NOINPUT, "source 'lms'", must)
    assert list(out.iterdir()) == []


def test_a_named_variable_that_is_not_set(dossier, tmp_path):
    config = command_map(tmp_path, "ok")
    env = {k: v for k, v in os.environ.items() if k != "LMS_TOKEN"}
    import subprocess
    proc = subprocess.run([dossier, "export", "--config", config, "--email", ANNA, "--out", tmp_path / "out"],
                          capture_output=True, text=True, timeout=60, env=env)
    assert_one_line_error(proc, EX_NOINPUT, "source 'lms'", "LMS_TOKEN", "is not set")


@pytest.mark.parametrize("program,must", [
    ("[no-such-program-dossier", "the program no-such-program-dossier is not on the PATH"),
    ("[./missing.py", "the program ./missing.py is not an executable file"),
])
def test_a_program_that_cannot_be_found(dossier, tmp_path, program, must):
    config = command_map(tmp_path, "ok", program=program)
    assert_one_line_error(export(dossier, config, tmp_path / "out", {"LMS_TOKEN": "x"}), EX_NOINPUT, must)


@pytest.mark.parametrize("replace,must", [
    (("environment: [LMS_TOKEN]", "environment: [LMS_TOKEN=s3cret]"), "not values"),
    (("timeout: 10", "timeout: 0"), "timeout is a number of seconds from 1 to 3600"),
    ((f"command: {INTERPRETER}, ok]", "command: []"), "command is the program and its arguments as a list"),
    ((f"command: {INTERPRETER}, ok]", "command: python3 lms.py ok"), "command"),
])
def test_map_errors(dossier, tmp_path, replace, must):
    config = command_map(tmp_path, "ok")
    text = config.read_text(encoding="utf-8")
    assert replace[0] in text
    config.write_text(text.replace(replace[0], replace[1]), encoding="utf-8")
    assert_one_line_error(run(dossier, "validate", "--config", config), 64, must, "lms")


def test_command_maps_match_the_published_schema(tmp_path):
    """The keys of a command source are in Schemas/datamap.schema.json (they were missing from it)."""
    import jsonschema
    import yaml
    schema = json.loads((Path(__file__).resolve().parents[2] / "Schemas" / "datamap.schema.json").read_text(encoding="utf-8"))
    validator = jsonschema.validators.validator_for(schema)(schema)
    config = command_map(tmp_path, "ok")
    assert [e.message for e in validator.iter_errors(yaml.safe_load(config.read_text(encoding="utf-8")))] == []
    bad = config.read_text(encoding="utf-8").replace("environment: [LMS_TOKEN]", "environment: [LMS-TOKEN]")
    assert list(validator.iter_errors(yaml.safe_load(bad)))
