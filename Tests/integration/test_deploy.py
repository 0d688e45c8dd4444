"""The deployment examples under Samples/deploy/: the Kubernetes manifests validate against the
Kubernetes API schemas (kubernetes-validate), the systemd units pass `systemd-analyze verify`, and
every command they run is one the binary has, with options it accepts."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import yaml

from conftest import REPO, run

DEPLOY = REPO / "Samples" / "deploy"


def test_kubernetes_manifests_validate():
    tool = Path(__file__).resolve().parents[2] / ".build-venv" / "bin" / "kubernetes-validate"
    assert tool.is_file(), "kubernetes-validate is missing from the test environment (Tests/integration/requirements.txt)"
    for manifest in sorted((DEPLOY / "kubernetes").glob("*.yaml")):
        proc = subprocess.run([str(tool), "--strict", str(manifest)], capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, f"{manifest.name}: {proc.stdout}{proc.stderr}"
        assert "passed" in proc.stdout + proc.stderr


def test_kubernetes_commands_are_the_binary_s(dossier):
    docs = [d for m in (DEPLOY / "kubernetes").glob("*.yaml") for d in yaml.safe_load_all(m.read_text()) if d]
    commands = []
    for doc in docs:
        spec = doc.get("spec", {})
        pod = spec.get("jobTemplate", {}).get("spec", {}).get("template", {}).get("spec") or spec.get("template", {}).get("spec")
        for c in (pod or {}).get("initContainers", []) + (pod or {}).get("containers", []):
            commands.append(c["args"])
            probe = c.get("livenessProbe", {}).get("exec", {}).get("command")
            if probe:
                assert probe[0] == "dossier"
                commands.append(probe[1:])
    assert {c[0] for c in commands} == {"run-due", "batch", "worker", "request"}
    for cron in (d for d in docs if d["kind"] == "CronJob"):
        assert cron["spec"]["concurrencyPolicy"] == "Forbid", "run-due must not overlap itself"
    for args in commands:
        # Every option the manifest passes is one the command knows.
        words = args[:2] if args[0] == "request" else args[:1]
        helptext = run(dossier, *words, "--help").stdout
        for arg in args[len(words):]:
            if arg.startswith("--"):
                assert arg in helptext, f"{' '.join(words)} has no option {arg}"


def test_kubernetes_workers_share_a_postgresql_ledger_and_one_archives_folder():
    docs = [d for d in yaml.safe_load_all((DEPLOY / "kubernetes" / "dossier-workers.yaml").read_text()) if d]
    by_kind = {}
    for d in docs:
        by_kind.setdefault(d["kind"], []).append(d)
    (claim,) = by_kind["PersistentVolumeClaim"]
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"], "every worker pod writes to the same archives folder"
    (deployment,) = by_kind["Deployment"]
    pod = deployment["spec"]["template"]["spec"]
    assert pod["terminationGracePeriodSeconds"] >= 60
    (worker,) = pod["containers"]
    assert worker["args"][0] == "worker" and "--once" not in worker["args"]
    assert worker["envFrom"] == [{"secretRef": {"name": "dossier-ledger"}}]
    assert "--probe" in worker["livenessProbe"]["exec"]["command"]
    (secret,) = by_kind["Secret"]
    assert set(secret["stringData"]) == {"DOSSIER_LEDGER_URL"}
    (job,) = by_kind["Job"]
    assert "--once" in job["spec"]["template"]["spec"]["containers"][0]["args"]


def test_systemd_units_verify(dossier, tmp_path):
    tool = shutil.which("systemd-analyze")
    assert tool, "systemd-analyze is missing (Debian package systemd)"
    for unit in (DEPLOY / "systemd").iterdir():
        text = unit.read_text(encoding="utf-8").replace("/usr/local/bin/dossier", dossier)
        (tmp_path / unit.name).write_text(text, encoding="utf-8")
    units = sorted(str(p) for p in tmp_path.iterdir())
    proc = subprocess.run([tool, "verify", *units], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stderr.strip() == "", proc.stderr
    service = (DEPLOY / "systemd" / "dossier-run-due.service").read_text()
    exec_line = next(line for line in service.splitlines() if line.startswith("ExecStart="))
    args = exec_line.split()[1:]
    assert args[0] == "run-due"
    helptext = run(dossier, "run-due", "--help").stdout
    assert all(a in helptext for a in args if a.startswith("--"))
