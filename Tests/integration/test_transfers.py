"""Transfers outside the EEA as GDPR Chapter V has them (issue 10, item 7): a recipient covered by an
adequacy decision (Art. 45) needs no safeguard, the United States' decision only for organisations
the map says are certified under the Data Privacy Framework, and the bundle names the basis of every
transfer in information.json (checked against its schema) and index.html, in both languages."""
from __future__ import annotations

import html
import json
import zipfile

from bundle_helpers import schema_errors, validator
from conftest import EX_USAGE, MINI_MAP, assert_one_line_error, build_mini, run

RECIPIENTS = """\
recipients:
  hosting: { title: { en: Hosting provider }, country: DE }
  mailer: { title: { en: Mailing provider }, country: US, dpf_certified: true }
  support: { title: { en: Support desk }, country: CA }
  patents: { title: { en: Patent attorneys }, international_organisation: EPO }
  backup: { title: { en: Backup service }, country: IN, safeguard: { en: Standard contractual clauses, pl: Standardowe klauzule umowne } }
"""
OLD_RECIPIENTS = """\
recipients:
  hosting: { title: { en: Hosting provider }, country: DE }
  mailer: { title: { en: Mailing provider }, country: US, safeguard: { en: Standard contractual clauses } }
"""


def transfers_map(folder, recipients: str = RECIPIENTS):
    assert OLD_RECIPIENTS in MINI_MAP
    text = MINI_MAP.replace(OLD_RECIPIENTS, recipients)
    text = text.replace("        recipients: [hosting]\n", "        recipients: [hosting, support, patents]\n", 1)
    text = text.replace("        recipients: [mailer]\n", "        recipients: [mailer, backup]\n", 1)
    return build_mini(folder, map_text=text)


def bundle(dossier, config, out, language):
    out.mkdir(exist_ok=True)
    proc = run(dossier, "export", "--config", config, "--email", "anna@example.pl", "--out", out / language,
               "--request-id", "R1", "--language", language, "--as-of", "2026-12-06T10:00:00Z")
    assert proc.returncode == 0, proc.stderr
    with zipfile.ZipFile(proc.stdout.strip().splitlines()[-1]) as z:
        names = z.namelist()
        info = json.loads(z.read(next(n for n in names if n.endswith("information.json"))))
        page = z.read(next(n for n in names if n.endswith("index.html"))).decode("utf-8")
    return info, page


def test_adequacy_decisions_need_no_safeguard_and_are_named(dossier, tmp_path):
    config = transfers_map(tmp_path / "m")
    proc = run(dossier, "validate", "--config", config)
    assert proc.returncode == 0, proc.stderr
    info, page = bundle(dossier, config, tmp_path / "out", "en")
    assert schema_errors(validator("information"), info) == []
    got = {r["id"]: r for r in info["recipients"]}
    assert set(got) == {"hosting", "mailer", "support", "patents", "backup"}
    assert got["hosting"]["third_country"] is False and "transfer_basis" not in got["hosting"]
    assert got["mailer"]["transfer_basis"] == {
        "article": "45", "kind": "adequacy_decision", "decision": "Commission Implementing Decision (EU) 2023/1795",
        "adopted": "2023-07-10",
        "scope": "for organisations certified under the EU-U.S. Data Privacy Framework, as this recipient is"}
    assert "safeguard" not in got["mailer"]
    assert got["support"]["transfer_basis"] == {
        "article": "45", "kind": "adequacy_decision", "decision": "Commission Decision 2002/2/EC", "adopted": "2001-12-20",
        "scope": "for organisations subject to Canada's Personal Information Protection and Electronic Documents Act"}
    assert got["patents"]["international_organisation"] == "EPO" and "country" not in got["patents"]
    assert got["patents"]["third_country"] is True
    assert got["patents"]["transfer_basis"]["decision"] == "Commission Implementing Decision of 15 July 2025"
    assert got["backup"]["transfer_basis"] == {"article": "46", "kind": "safeguard", "safeguard": "Standard contractual clauses"}
    # The page says the same, card by card.
    assert "Basis for the transfer" in page
    assert ("adequacy decision of the European Commission (Art. 45 GDPR): Commission Decision 2002/2/EC "
            "(for organisations subject to Canada's Personal Information Protection and Electronic Documents Act)") \
        in html.unescape(page)
    assert "<dt>International organisation</dt><dd>European Patent Organisation</dd>" in page
    assert "the safeguard below (Art. 46 GDPR)" in page
    assert page.count("adequacy decision of the European Commission (Art. 45 GDPR): ") == 3

    info, page = bundle(dossier, config, tmp_path / "out-pl", "pl")
    assert schema_errors(validator("information"), info) == []
    assert "Podstawa przekazania" in page
    assert page.count("decyzja Komisji Europejskiej stwierdzająca odpowiedni stopień ochrony (art. 45 RODO): ") == 3
    assert "<dt>Organizacja międzynarodowa</dt><dd>Europejska Organizacja Patentowa</dd>" in page
    assert {r["id"]: r for r in info["recipients"]}["backup"]["transfer_basis"]["safeguard"] == "Standardowe klauzule umowne"


def test_a_us_recipient_not_certified_needs_a_safeguard(dossier, tmp_path):
    config = transfers_map(tmp_path / "m", RECIPIENTS.replace("country: US, dpf_certified: true", "country: US"))
    proc = run(dossier, "validate", "--config", config)
    assert_one_line_error(proc, EX_USAGE, "recipient 'mailer' is in the United States", "dpf_certified: true",
                          "Art. 46 safeguard", "mini.yaml")


def test_dpf_certified_outside_the_united_states_is_refused(dossier, tmp_path):
    config = transfers_map(tmp_path / "m", RECIPIENTS.replace("country: CA }", "country: CA, dpf_certified: true }"))
    proc = run(dossier, "validate", "--config", config)
    assert_one_line_error(proc, EX_USAGE, "dpf_certified is for recipients in the United States", "recipients.support.dpf_certified")


def test_a_country_without_a_decision_still_needs_a_safeguard(dossier, tmp_path):
    config = transfers_map(tmp_path / "m", RECIPIENTS.replace(
        "country: IN, safeguard: { en: Standard contractual clauses, pl: Standardowe klauzule umowne }", "country: IN"))
    proc = run(dossier, "validate", "--config", config)
    assert_one_line_error(proc, EX_USAGE, "recipient 'backup' is outside the EEA", "no adequacy decision", "Art. 46")


def test_the_published_map_schema_has_the_same_rules(tmp_path):
    """Schemas/datamap.schema.json accepts the maps Dossier accepts here and refuses those it refuses."""
    import jsonschema
    import yaml
    from conftest import REPO
    schema = json.loads((REPO / "Schemas" / "datamap.schema.json").read_text(encoding="utf-8"))
    v = jsonschema.validators.validator_for(schema)(schema)

    def errors(recipients: str) -> list[str]:
        text = transfers_map(tmp_path / f"m{len(list(tmp_path.iterdir()))}", recipients).read_text(encoding="utf-8")
        return [f"{list(e.path)}: {e.message}" for e in v.iter_errors(yaml.safe_load(text))]

    assert errors(RECIPIENTS) == []
    assert errors(RECIPIENTS.replace("country: US, dpf_certified: true", "country: US")) != []
    assert errors(RECIPIENTS.replace("country: US, dpf_certified: true", "country: US, safeguard: SCC")) == []
    assert errors(RECIPIENTS.replace("country: CA }", "country: CA, dpf_certified: true }")) != []
    assert errors(RECIPIENTS.replace("international_organisation: EPO", "international_organisation: EPO, country: DE")) != []
    assert errors(RECIPIENTS.replace(
        "country: IN, safeguard: { en: Standard contractual clauses, pl: Standardowe klauzule umowne }", "country: IN")) != []
