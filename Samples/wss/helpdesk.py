#!/usr/bin/env python3
"""The helpdesk's lookup script (a `kind: command` source of wss.yaml): the helpdesk has no API, only
this script, which reads its export (helpdesk/tickets.json). Dossier writes one request on standard
input, {"dataset", "kind", "value", "lookup"}; the script writes the tickets of that account as JSON
Lines on standard output. Standard library only."""
import json
import sys
from pathlib import Path

request = json.loads(sys.stdin.read())
if request.get("kind") != "account" or request.get("lookup") != "tickets-by-account":
    sys.stderr.write(f"helpdesk: cannot look up {request.get('kind')!r} with {request.get('lookup')!r}\n")
    sys.exit(2)
tickets = json.loads((Path(__file__).resolve().parent / "helpdesk" / "tickets.json").read_text(encoding="utf-8"))
for ticket in tickets:
    if ticket["account"] == request["value"]:
        print(json.dumps(ticket, ensure_ascii=False))
