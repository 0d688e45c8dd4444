import json, sys
sys.stdin.read()
print(json.dumps({"course": "ok", "email": "anna@example.pl"}))
print("this is not json, secret-garbage jan@example.pl")
