"""The README's examples run as printed (issue 12, item 8).

Every ```sh block of the README is run, in order, by bash (`set -euo pipefail`) in a folder that holds
a copy of `Samples/` and `Schemas/`, as a newcomer who cloned the repository and ran `make demo`
would have them, with `dossier` on the PATH. A block that cannot run here says so in an HTML comment
on the line before it, `<!-- not run: why -->` (a server that is not there, a placeholder that
stands for the reader's own file, the tests themselves); every other block must succeed."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import REPO

README = REPO / "README.md"
BLOCK = re.compile(r"(?:<!-- not run: (?P<why>[^>]+?) -->\n)?```sh\n(?P<code>.*?)```", re.S)


def blocks() -> list[tuple[int, str | None, str]]:
    text = README.read_text(encoding="utf-8")
    return [(text.count("\n", 0, m.start("code")) + 1, m.group("why"), m.group("code")) for m in BLOCK.finditer(text)]


def test_every_block_runs_or_says_why_not():
    found = blocks()
    assert len(found) >= 8, "the README's sh blocks are not found"
    runnable = [line for line, why, _ in found if why is None]
    assert len(runnable) >= 5, f"only {len(runnable)} of {len(found)} blocks run"
    for line, why, code in found:
        if why is None:
            assert "map.yaml" not in code, f"README line {line}: a placeholder map in a block that is run"


@pytest.fixture(scope="module")
def newcomer(dossier, tmp_path_factory) -> tuple[Path, dict]:
    """A folder with the samples and schemas (built, nothing run yet) and `dossier` on the PATH."""
    root = tmp_path_factory.mktemp("newcomer")
    shutil.copytree(REPO / "Samples", root / "Samples",
                    ignore=shutil.ignore_patterns("ledger", "index", "__pycache__"))
    shutil.copytree(REPO / "Schemas", root / "Schemas")
    bin_dir = root / "bin"
    bin_dir.mkdir()
    (bin_dir / "dossier").symlink_to(dossier)
    venv = REPO / ".build-venv" / "bin"                 # python3 with jsonschema, as the README assumes
    env = dict(os.environ, PATH=f"{bin_dir}:{venv}:{os.environ['PATH']}")
    env.pop("DOSSIER_LOG_LEVEL", None)
    return root, env


def test_the_readme_examples_run_as_printed(newcomer):
    root, env = newcomer
    ran = 0
    for line, why, code in blocks():
        if why is not None:
            continue
        proc = subprocess.run(["bash", "-c", "set -euo pipefail\n" + code], cwd=root, env=env,
                              capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, (f"README line {line}: the block exits {proc.returncode}\n{code}\n"
                                      f"stdout: {proc.stdout[-1500:]}\nstderr: {proc.stderr[-1500:]}")
        ran += 1
    assert ran >= 5
