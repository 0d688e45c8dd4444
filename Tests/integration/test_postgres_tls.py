"""TLS to PostgreSQL as `sslmode` says, for the source and the ledger: the tests' cluster turns TLS on
(a certificate for 127.0.0.1 signed by a throw-away authority made here with openssl) and Dossier
connects with require, verify-ca and verify-full; a certificate it cannot trust is refused in one
sentence. Everything stays on 127.0.0.1."""
import dataclasses
import os
import shutil
import subprocess

import pytest

from conftest import AS_OF, EX_NOINPUT, assert_one_line_error
from ledger_helpers import Ledger, make_samples_copy
from test_postgres_source import URL_VARIABLE, pg_map, records_of, run_env  # noqa: F401 (pg_map: a fixture)


def openssl(*args, cwd):
    proc = subprocess.run(["openssl", *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


@pytest.fixture(scope="module")
def tls(pg_cluster, tmp_path_factory):
    """The cluster with TLS on: returns the folder with ca.pem (the authority that signed the
    server's certificate) and other-ca.pem (one that did not)."""
    folder = tmp_path_factory.mktemp("tls")
    for name in ("ca", "other-ca"):
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN=dossier test {name}",
                "-keyout", f"{name}.key", "-out", f"{name}.pem", cwd=folder)
    (folder / "san.ext").write_text("subjectAltName = IP:127.0.0.1\n")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", "server.key",
            "-out", "server.csr", cwd=folder)
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2",
            "-extfile", "san.ext", "-out", "server.pem", cwd=folder)
    # the server reads its key and certificate from its data folder, the key private to its user
    data = pg_cluster.data
    for name in ("server.pem", "server.key"):
        shutil.copy(folder / name, data / name)
        if os.geteuid() == 0:
            shutil.chown(data / name, user=pg_cluster.user)
        os.chmod(data / name, 0o600)
    pg_cluster.psql("ALTER SYSTEM SET ssl_cert_file = 'server.pem'; ALTER SYSTEM SET ssl_key_file = 'server.key';"
                    "ALTER SYSTEM SET ssl = on;")
    pg_cluster.psql("SELECT pg_reload_conf();")
    yield folder
    pg_cluster.psql("ALTER SYSTEM RESET ssl; SELECT pg_reload_conf();")


def url_with(url: str, query: str) -> str:
    return url.replace("?sslmode=disable", "?" + query)


@pytest.mark.parametrize("query", ["sslmode=require", "sslmode=verify-ca&sslrootcert={ca}", "sslmode=verify-full&sslrootcert={ca}"])
def test_source_over_tls(dossier, pg_map, pg_chinook, tls, tmp_path, query):
    url = url_with(pg_chinook.url, query.format(ca=tls / "ca.pem"))
    out = tmp_path / "out"
    proc = run_env(dossier, "export", "--config", pg_map, "--email", "luisg@embraer.com.br", "--out", out,
                   "--request-id", "TLS-1", "--as-of", AS_OF, env={URL_VARIABLE: url})
    assert proc.returncode == 0, proc.stderr
    assert [c["CustomerId"] for c in records_of(out / "dossier-TLS-1.zip")["store/customers"]] == [1]


@pytest.mark.parametrize("query", ["sslmode=verify-full&sslrootcert={other}", "sslmode=verify-ca&sslrootcert={other}",
                                   "sslmode=verify-full"])
def test_a_certificate_that_cannot_be_trusted_is_refused(dossier, pg_map, pg_chinook, tls, tmp_path, query):
    url = url_with(pg_chinook.url, query.format(other=tls / "other-ca.pem"))
    proc = run_env(dossier, "export", "--config", pg_map, "--email", "luisg@embraer.com.br", "--out", tmp_path / "out",
                   "--request-id", "TLS-1", "--as-of", AS_OF, env={URL_VARIABLE: url})
    line = assert_one_line_error(proc, EX_NOINPUT, "source 'store'", "certificate")
    assert pg_chinook.password not in line


def test_ledger_over_tls(dossier, pg_ledger_database, tls, tmp_path):
    db = pg_ledger_database()
    secured = dataclasses.replace(db, url=url_with(db.url, f"sslmode=verify-full&sslrootcert={tls / 'ca.pem'}"))
    ledger = Ledger(dossier, make_samples_copy(tmp_path / "samples", backend="postgres"), "postgres", secured)
    rid, _ = ledger.open([("email", "zofia.wisniewska@example.pl")], "2026-02-02")
    assert ledger.show(rid)["status"] == "received"
    bad = dataclasses.replace(db, url=url_with(db.url, f"sslmode=verify-full&sslrootcert={tls / 'other-ca.pem'}"))
    proc = Ledger(dossier, ledger.map, "postgres", bad).request("list")
    assert_one_line_error(proc, 73, "ledger", "certificate")


def test_verify_full_checks_the_name_and_verify_ca_does_not(dossier, pg_map, pg_chinook, pg_cluster, tls, tmp_path):
    """A certificate from the trusted authority that names another server (db.example, 127.0.0.2):
    verify-ca accepts it (the chain is good), verify-full refuses it (neither the host name given nor
    the address reached is the certificate's)."""
    (tls / "other.ext").write_text("subjectAltName = DNS:db.example, IP:127.0.0.2\n")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=db.example", "-keyout", "other.key", "-out", "other.csr", cwd=tls)
    openssl("x509", "-req", "-in", "other.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2",
            "-extfile", "other.ext", "-out", "other.pem", cwd=tls)
    data = pg_cluster.data
    for name in ("other.pem", "other.key"):
        shutil.copy(tls / name, data / name)
        if os.geteuid() == 0:
            shutil.chown(data / name, user=pg_cluster.user)
        os.chmod(data / name, 0o600)
    pg_cluster.psql("ALTER SYSTEM SET ssl_cert_file = 'other.pem'; ALTER SYSTEM SET ssl_key_file = 'other.key';")
    pg_cluster.psql("SELECT pg_reload_conf();")
    try:
        for mode, ok in (("verify-ca", True), ("verify-full", False)):
            url = url_with(pg_chinook.url, f"sslmode={mode}&sslrootcert={tls / 'ca.pem'}")
            out = tmp_path / mode
            proc = run_env(dossier, "export", "--config", pg_map, "--email", "luisg@embraer.com.br", "--out", out,
                           "--request-id", "TLS-1", "--as-of", AS_OF, env={URL_VARIABLE: url})
            if ok:
                assert proc.returncode == 0, proc.stderr
            else:
                assert_one_line_error(proc, EX_NOINPUT, "source 'store'", "certificate")
    finally:
        pg_cluster.psql("ALTER SYSTEM SET ssl_cert_file = 'server.pem'; ALTER SYSTEM SET ssl_key_file = 'server.key';")
        pg_cluster.psql("SELECT pg_reload_conf();")
