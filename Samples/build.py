#!/usr/bin/env python3
"""Build Samples/crm/crm.sqlite from Samples/crm/crm.sql (standard library only).

    python3 Samples/build.py [OUTPUT]

Deletes the database (and any journal beside it) and recreates it from the SQL script, so the
result depends on nothing but crm.sql. OUTPUT defaults to crm/crm.sqlite beside this script; the
.sqlite file is not committed.
"""

import os
import sqlite3
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def build(sql_path, db_path):
    with open(sql_path, encoding="utf-8") as f:
        script = f.read()
    for suffix in ("", "-journal", "-wal", "-shm"):
        try:
            os.remove(db_path + suffix)
        except FileNotFoundError:
            pass
    tmp = db_path + "-building"   # matches the .gitignore pattern *.sqlite-*
    if os.path.exists(tmp):
        os.remove(tmp)
    con = sqlite3.connect(tmp, isolation_level=None)   # the script has its own BEGIN/COMMIT
    try:
        con.executescript(script)
        problems = con.execute("PRAGMA foreign_key_check").fetchall()
        if problems:
            raise SystemExit("foreign key violations: %r" % problems[:5])
        con.execute("VACUUM")
    finally:
        con.close()
    os.replace(tmp, db_path)


def main():
    db_path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "crm", "crm.sqlite")
    build(os.path.join(HERE, "crm", "crm.sql"), db_path)
    con = sqlite3.connect("file:%s?mode=ro" % db_path, uri=True)
    tables = [r[0] for r in con.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
    counts = ", ".join("%s %d" % (t, con.execute('SELECT count(*) FROM "%s"' % t).fetchone()[0])
                       for t in tables)
    con.close()
    print("%s: %s" % (db_path, counts))


if __name__ == "__main__":
    main()
