"""The index.html template, stylesheet and translations are embedded in the binary (issue 10, item 9):
the generated EmbeddedResources.swift is what embed.py makes of Sources/DossierReport/Resources, and a
copy of the binary alone, with no resource folder beside it, renders the page in both languages."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from conftest import REPO

EMBED = REPO / "Sources" / "DossierReport" / "embed.py"
GENERATED = REPO / "Sources" / "DossierReport" / "EmbeddedResources.swift"


def test_the_embedded_resources_are_current(tmp_path):
    out = tmp_path / "EmbeddedResources.swift"
    proc = subprocess.run([sys.executable, EMBED, out], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes() == GENERATED.read_bytes(), "EmbeddedResources.swift is stale: run `make embed`"


def test_the_binary_alone_renders_the_page(dossier, samples_map, tmp_path):
    alone = tmp_path / "bin" / "dossier"
    alone.parent.mkdir()
    shutil.copy2(dossier, alone)                     # no dossier_*.resources folder beside it
    assert [p.name for p in alone.parent.iterdir()] == ["dossier"]
    for language, title in (("pl", "Twoje dane osobowe"), ("en", "Your personal data")):
        out = tmp_path / language
        proc = subprocess.run([alone, "export", "--config", samples_map, "--email", "zofia.wisniewska@example.pl",
                               "--out", out, "--language", language], capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        with zipfile.ZipFile(proc.stdout.strip().splitlines()[-1]) as z:
            page = z.read("index.html").decode("utf-8")
            info = json.loads(z.read("information.json"))
        assert f"<title>{title}" in page and "<style>\n:root {" in page
        assert info["language"] == language
