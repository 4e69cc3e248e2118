"""``lgwan-sim pki ...`` errors that name their cause, help and options, exit codes."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from lgwan_sim.cli import main
from lgwan_sim.lgpki import Pki
from tests.lgpki.support import SCRYPT_N
from tests.support import CliResult

TOPOLOGY = """\
name: tiny
sites:
  - {id: central-east, kind: central, name: East central site}
  - {id: mun-01-001, kind: municipality, name: Town One, name_ja: 一町, prefecture: "01"}
  - {id: pref-01, kind: prefecture, name: Hokkaido, name_ja: 北海道, prefecture: "01"}
  - {id: asp-one, kind: asp, name: ASP One}
links:
  - {a: central-east, b: mun-01-001, capacity_bps: 100000000}
  - {a: central-east, b: pref-01, capacity_bps: 100000000}
  - {a: central-east, b: asp-one, capacity_bps: 100000000}
"""

PASS = "errors-test-passphrase"


class Home:
    """A G2 CA home made through the library (cheap KDF), driven through the CLI."""

    def __init__(self, root: Path, cli: Callable[..., CliResult]) -> None:
        self.root = root
        self.cli = cli
        root.mkdir(parents=True, exist_ok=True)
        self.home = root / "home"
        self.topology = root / "tiny.yaml"
        self.topology.write_text(TOPOLOGY, encoding="utf-8")
        (root / "pass").write_text(PASS + "\n")
        with Pki.create(
            self.home,
            passphrase=PASS.encode(),
            now=datetime(2020, 4, 1, tzinfo=UTC),
            generations=["G2"],
            scrypt_n=SCRYPT_N,
        ):
            pass

    def run(self, *args: str) -> CliResult:
        return self.cli("pki", "--home", self.home, "--passphrase-file", self.root / "pass", *args)

    def issue(self, site: str, profile: str, at: str, *more: str) -> CliResult:
        args = ["issue", "--site", site, "--profile", profile, "--at", at]
        result = self.run(*args, "--topology", str(self.topology), *more)
        assert result.code == 0, result.err
        return result


@pytest.fixture
def home(tmp_path: Path, cli: Callable[..., CliResult]) -> Home:
    return Home(tmp_path, cli)


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


# -- errors name their cause --------------------------------------------------------------


def test_a_stale_crl_names_the_ca_whose_crl_it_is(home: Home):
    home.issue("asp-one", "server", "2020-04-02T00:00Z", "--out", str(home.root / "out"))
    result = home.run("crl", "--at", "2020-04-02T01:00Z")
    assert result.code == 0
    cert = str(home.root / "out" / "asp-one-server-G2.crt")
    result = home.run("verify", cert, "--at", "2020-04-10T00:00Z")
    assert result.code == 1
    line = _one_line(result.err)
    assert "crl-stale: CRL #" in line
    assert "of LGPKI Application CA G2 Sub1 is valid 2020-04-02T01:00:00Z to" in line
    assert line.endswith("not at 2020-04-10T00:00:00Z")


def test_a_revoked_certificate_names_the_ca_whose_crl_says_so(home: Home):
    home.issue("asp-one", "server", "2020-04-02T00:00Z", "--out", str(home.root / "out"))
    result = home.run(
        "revoke", "--holder", "asp-one", "--reason", "superseded", "--at", "2020-04-02T01:00Z"
    )
    assert result.code == 0
    cert = str(home.root / "out" / "asp-one-server-G2.crt")
    result = home.run("verify", cert, "--at", "2020-04-02T02:00Z")
    assert result.code == 1
    line = _one_line(result.err)
    assert "revoked: certificate" in line
    assert "is revoked (CRL #" in line
    assert line.endswith("of LGPKI Application CA G2 Sub1)")


def test_sign_with_only_an_expired_certificate_gives_its_dates(home: Home):
    home.issue("pref-01", "role", "2020-04-02T00:00Z")
    (home.root / "p.txt").write_text("hello")
    out = str(home.root / "m.bin")
    args = ("sign", "--site", "pref-01", "--topic", "t", "--payload", str(home.root / "p.txt"))
    result = home.run(*args, "--out", out, "--at", "2024-01-01T00:00Z")
    assert result.code == 2
    line = _one_line(result.err)
    assert "'pref-01' holds no valid message-signing certificate" in line
    assert "at 2024-01-01T00:00:00Z" in line
    assert "role org_g2/" in line
    assert "expired: valid 2020-04-02T00:00:00Z to 2023-04-02T00:00:00Z" in line
    assert not Path(out).exists()
    # before its start it is "not yet valid", with the same dates
    result = home.run(*args, "--out", out, "--at", "2020-04-01T12:00Z")
    assert result.code == 2
    line = _one_line(result.err)
    assert "not yet valid: valid 2020-04-02T00:00:00Z to 2023-04-02T00:00:00Z" in line


def test_renew_of_a_revoked_holder_says_it_was_revoked(home: Home):
    home.issue("mun-01-001", "role", "2020-04-02T00:00Z")
    result = home.run(
        "revoke",
        "--holder",
        "mun-01-001",
        "--reason",
        "key_compromise",
        "--at",
        "2020-04-03T00:00Z",
    )
    assert result.code == 0
    result = home.run("renew", "--holder", "mun-01-001", "--at", "2020-04-04T00:00Z")
    assert result.code == 2
    line = _one_line(result.err)
    assert "'mun-01-001' holds no valid end-entity certificate to renew at 2020-04-04" in line
    assert "revoked 2020-04-03T00:00:00Z (key_compromise)" in line
    assert "valid 2020-04-02T00:00:00Z to 2023-04-02T00:00:00Z" in line
    # revoking again says the same
    result = home.run("revoke", "--holder", "mun-01-001", "--reason", "superseded")
    assert result.code == 2
    assert "revoked 2020-04-03T00:00:00Z (key_compromise)" in result.err


def test_renew_of_an_expired_holder_gives_the_dates(home: Home):
    home.issue("asp-one", "message", "2020-04-02T00:00Z")
    result = home.run("renew", "--holder", "asp-one", "--at", "2022-01-01T00:00Z")
    assert result.code == 2
    line = _one_line(result.err)
    assert "message app_sub_g2/" in line
    assert "expired: valid 2020-04-02T00:00:00Z to 2021-04-02T00:00:00Z" in line


def test_a_holder_without_certificates_is_told_so(home: Home):
    result = home.run("renew", "--holder", "pref-01", "--at", "2020-04-04T00:00Z")
    assert result.code == 2
    assert _one_line(result.err).endswith(": it has none")


# -- --help without --home; --home after the subcommand ----------------------------------

PKI_COMMANDS = ("init", "issue", "revoke", "renew", "crl", "verify", "sign", "status", "audit",
                "migrate")  # fmt: skip


def test_every_subcommand_has_help_without_a_home(capsys, monkeypatch):
    from lgwan_sim._cli.pki import pki

    monkeypatch.delenv("LGWAN_SIM_PKI_HOME", raising=False)
    assert set(PKI_COMMANDS) <= set(pki.commands)
    for name in pki.commands:
        assert main(["pki", name, "--help"]) == 0, name
        out = capsys.readouterr().out
        assert out.startswith(f"Usage: lgwan-sim pki {name} "), out
        assert "--home DIRECTORY" in out  # and it says that --home is accepted here
    assert main(["pki", "--help"]) == 0
    assert "before or after the subcommand" in capsys.readouterr().out


def test_home_and_passphrase_file_after_the_subcommand(tmp_path: Path, capsys, monkeypatch):
    monkeypatch.delenv("LGWAN_SIM_PKI_HOME", raising=False)
    home = tmp_path / "ca"
    assert main(["pki", "init", "--home", str(home), "--generation", "G1", "--at",
                 "2010-04-01T00:00Z"]) == 0  # fmt: skip
    assert capsys.readouterr().out.startswith(f"initialised {home}: 5 CAs (gpki_bridge, ")
    assert (home / "pki.sqlite3").is_file()
    # the passphrase file init made, named after the subcommand, opens the store
    (tmp_path / "copy").write_bytes((home / "passphrase").read_bytes())
    args = ["status", "--at", "2010-04-02T00:00Z", "--passphrase-file", str(tmp_path / "copy")]
    assert main(["pki", *args, "--home", str(home)]) == 0
    assert "org_g1" in capsys.readouterr().out
    # after the subcommand wins over before it (and over the environment)
    monkeypatch.setenv("LGWAN_SIM_PKI_HOME", str(tmp_path / "elsewhere"))
    assert main(["pki", "--home", str(tmp_path / "nowhere"), *args, "--home", str(home)]) == 0
    assert "org_g1" in capsys.readouterr().out
    # a wrong passphrase file after the subcommand is used, not the default one
    (tmp_path / "wrong").write_text("not the passphrase\n")
    assert main(["pki", "status", "--home", str(home), "--passphrase-file",
                 str(tmp_path / "wrong")]) == 2  # fmt: skip
    assert capsys.readouterr().err.startswith("lgwan-sim: error:")


def test_a_missing_home_says_where_to_put_it(capsys, monkeypatch):
    monkeypatch.delenv("LGWAN_SIM_PKI_HOME", raising=False)
    assert main(["pki", "status"]) == 2
    line = _one_line(capsys.readouterr().err)
    assert "Missing option '--home'" in line
    assert "give it before or after 'status', or set LGWAN_SIM_PKI_HOME" in line


# -- exit codes of verify: 0 accepted, 1 rejected, 2 bad input ----------------------------


def test_verify_exit_codes_for_certificates(home: Home):
    home.issue("asp-one", "server", "2020-04-02T00:00Z", "--out", str(home.root / "out"))
    result = home.run("crl", "--at", "2020-04-02T01:00Z")
    assert result.code == 0
    cert = str(home.root / "out" / "asp-one-server-G2.crt")
    result = home.run("verify", cert, "--at", "2020-04-02T02:00Z")
    assert result.code == 0
    assert result.out.startswith("OK: CN=asp-one.lg.jp")
    # rejected: the verification ran and said no -> 1, one line naming the reason
    result = home.run("verify", cert, "--at", "2020-04-01T12:00Z")
    assert result.code == 1
    captured = result
    assert captured.out == ""
    assert _one_line(captured.err).startswith("REJECTED: not-yet-valid: ")
    # bad input -> 2
    broken = home.root / "broken.pem"
    broken.write_text("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    result = home.run("verify", str(broken), "--at", "2020-04-02T02:00Z")
    assert result.code == 2
    assert "not a readable PEM certificate" in result.err
    result = home.run("verify", cert, "--anchor", "no_such_ca", "--at", "2020-04-02T02:00Z")
    assert result.code == 2
    assert _one_line(result.err).startswith("lgwan-sim: error:")
    result = home.run("verify", cert, "--at", "yesterday")
    assert result.code == 2


def test_verify_exit_codes_for_messages(home: Home):
    home.issue("asp-one", "message", "2020-04-02T00:00Z")
    result = home.run("crl", "--at", "2020-04-02T01:00Z")
    assert result.code == 0
    payload = home.root / "p.txt"
    payload.write_text("hello")
    msg = home.root / "m.bin"
    result = home.run(
        "sign",
        "--site",
        "asp-one",
        "--topic",
        "t",
        "--payload",
        str(payload),
        "--out",
        str(msg),
        "--at",
        "2020-04-02T02:00Z",
    )
    assert result.code == 0
    result = home.run("verify", str(msg), "--at", "2020-04-02T02:00Z")
    assert result.code == 0
    assert result.out.startswith("OK: message from asp-one on 't'")
    # the wrong role, a tampered payload, a message too old: rejected -> 1
    result = home.run("verify", str(msg), "--role", "head", "--at", "2020-04-02T02:00Z")
    assert result.code == 1
    assert _one_line(result.err).startswith("REJECTED: role: ")
    tampered = home.root / "t.bin"
    data = bytearray(msg.read_bytes())
    data[data.index(b"hello")] ^= 1
    tampered.write_bytes(bytes(data))
    result = home.run("verify", str(tampered), "--at", "2020-04-02T02:00Z")
    assert result.code == 1
    assert _one_line(result.err).startswith("REJECTED: bad-signature: ")
    result = home.run("verify", str(msg), "--at", "2020-04-02T03:00Z")
    assert result.code == 1
    assert _one_line(result.err).startswith("REJECTED: stale-message: ")
    # a file that is neither a certificate nor a message, an unknown role: bad input -> 2
    result = home.run("verify", str(payload), "--at", "2020-04-02T02:00Z")
    assert result.code == 2
    line = _one_line(result.err)
    assert (
        line
        == f"lgwan-sim: error: {payload}: neither a PEM certificate nor an lgwan-sim signed message"
    )
    result = home.run("verify", str(msg), "--role", "king", "--at", "2020-04-02T02:00Z")
    assert result.code == 2
    assert "unknown role" in result.err


# -- a folder without a CA store is named before the passphrase ---------------------------


@pytest.mark.parametrize("command", [["status"], ["audit"], ["crl"], ["renew", "--holder", "x"]])
def test_a_home_without_a_store_says_to_run_init(tmp_path: Path, capsys, command):
    missing = tmp_path / "nohome"
    assert main(["pki", "--home", str(missing), *command]) == 2
    assert _one_line(capsys.readouterr().err) == (
        f"lgwan-sim: error: {missing}: no such folder; to make a CA store there,"
        f" run 'lgwan-sim pki --home {missing} init' first"
    )
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "passphrase").write_text("something\n")
    assert main(["pki", "--home", str(empty), *command]) == 2
    assert _one_line(capsys.readouterr().err) == (
        f"lgwan-sim: error: {empty}: no CA store in this folder; to make a CA store there,"
        f" run 'lgwan-sim pki --home {empty} init' first"
    )
    assert sorted(p.name for p in empty.iterdir()) == ["passphrase"]  # nothing written
    assert not missing.exists()


# -- polish: where issued certificates go, CRL times, revoke's default, export ------------


def _csr(path: Path, cn: str) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    csr = x509.CertificateSigningRequestBuilder().subject_name(name).sign(key, hashes.SHA256())
    path.write_bytes(csr.public_bytes(Encoding.PEM))


def test_issue_from_a_csr_says_where_the_certificate_went(home: Home):
    _csr(home.root / "req.pem", "asp-one")
    result = home.issue(
        "asp-one", "message", "2020-04-02T00:00Z", "--csr", str(home.root / "req.pem")
    )
    lines = result.out.splitlines()
    assert lines[0] == "issued 1 certificate (1 G2)"
    serial = lines[1].split()[-1]
    assert lines[2].startswith(f"  published in {home.home}/repo/issued/app_sub_g2/")
    published = Path(lines[2].split()[2])
    certs = x509.load_pem_x509_certificates(published.read_bytes())
    assert [f"{c.serial_number:x}" for c in certs] == [serial]
    # with --out it names the files it wrote
    out = home.root / "out"
    result = home.issue("asp-one", "server", "2020-04-02T00:00Z", "--out", str(out))
    last = result.out.splitlines()[-1]
    assert last == f"  wrote {out}/asp-one-server-G2.crt {out}/asp-one-server-G2.key"


def test_crl_prints_times_to_the_second(home: Home):
    result = home.run("crl", "--ca", "org_g2", "--at", "2020-04-02T01:00:00.123456Z")
    assert result.code == 0
    out = result.out.splitlines()
    assert [line.split()[:2] for line in out] == [["org_g2", "crl"], ["org_g2", "arl"]]
    assert all(line.endswith("next update 2020-04-04T01:00:00Z") for line in out), out
    result = home.run("crl", "--ca", "org_g2", "--delta")
    assert result.code == 0  # at the current time
    line = result.out.strip()
    assert "." not in line.split("next update ")[1]
    assert line.endswith("Z")


def test_revoke_help_shows_that_it_publishes_by_default(capsys):
    assert main(["pki", "revoke", "--help"]) == 0
    assert "[default: publish]" in " ".join(capsys.readouterr().out.split())


def test_export_writes_the_newest_valid_certificate(home: Home):
    home.issue("asp-one", "server", "2020-04-02T00:00Z")
    home.issue("asp-one", "message", "2020-04-03T00:00Z")
    out = home.root / "one.pem"
    result = home.run("export", "--holder", "asp-one", "-o", str(out), "--at", "2020-04-04T00:00Z")
    assert result.code == 0
    said = result.out.strip()
    cert = x509.load_pem_x509_certificate(out.read_bytes())
    assert said == (
        f"exported asp-one message app_sub_g2/{cert.serial_number:x}"
        f" (valid 2020-04-03 to 2021-04-03) -> {out}"
    )
    result = home.run(
        "export",
        "--holder",
        "asp-one",
        "--profile",
        "server",
        "--generation",
        "G2",
        "-o",
        str(out),
        "--at",
        "2020-04-04T00:00Z",
    )
    assert result.code == 0
    assert " server " in result.out
    server = x509.load_pem_x509_certificate(out.read_bytes())
    assert server.not_valid_before_utc.date().isoformat() == "2020-04-02"
    # nothing valid: the reason, and no file
    gone = home.root / "gone.pem"
    result = home.run(
        "export",
        "--holder",
        "asp-one",
        "--profile",
        "server",
        "-o",
        str(gone),
        "--at",
        "2030-01-01T00:00Z",
    )
    assert result.code == 2
    assert "expired: valid 2020-04-02T00:00:00Z to" in result.err
    assert not gone.exists()
    result = home.run(
        "export",
        "--holder",
        "asp-one",
        "--generation",
        "G1",
        "-o",
        str(gone),
        "--at",
        "2020-04-04T00:00Z",
    )
    assert result.code == 2
    assert "holds no valid G1 certificate at 2020-04-04T00:00:00Z" in result.err


@pytest.mark.openssl
@pytest.mark.skipif(shutil.which("openssl") is None, reason="the openssl command is not installed")
def test_openssl_verifies_an_exported_certificate(home: Home):
    home.issue("asp-one", "server", "2020-04-02T00:00Z")
    out = home.root / "leaf.pem"
    result = home.run("export", "--holder", "asp-one", "-o", str(out), "--at", "2020-04-03T00:00Z")
    assert result.code == 0
    repo = home.home / "repo"
    at = str(int(datetime(2020, 4, 3, tzinfo=UTC).timestamp()))
    done = subprocess.run(
        ["openssl", "verify", "-attime", at, "-CAfile", str(repo / "anchors" / "bridge_g2.pem"),
         "-untrusted", str(repo / "bundles" / "bridge_g2.pem"), str(out)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"{out}: OK"


def test_revoke_a_certificate_given_as_a_file(home: Home, tmp_path: Path):
    out = home.root / "out"
    home.issue("asp-one", "server", "2020-04-02T00:00Z", "--out", str(out))
    home.issue("asp-one", "message", "2020-04-02T00:00Z")
    crt = out / "asp-one-server-G2.crt"
    serial = f"{x509.load_pem_x509_certificate(crt.read_bytes()).serial_number:x}"
    result = home.run(
        "revoke", "--cert", str(crt), "--reason", "superseded", "--at", "2020-04-02T01:00Z"
    )
    assert result.code == 0
    assert result.out == f"revoked app_sub_g2/{serial} (asp-one, superseded)\n"
    result = home.run("verify", str(crt), "--at", "2020-04-02T02:00Z")
    assert result.code == 1
    assert "REJECTED: revoked: " in result.err
    # the message certificate of the same holder is untouched
    result = home.run(
        "export", "--holder", "asp-one", "-o", str(tmp_path / "m.pem"), "--at", "2020-04-02T02:00Z"
    )
    assert result.code == 0
    assert " message " in result.out
    # a certificate of another home, or no certificate: bad input, nothing revoked
    other = Home(tmp_path / "other", home.cli)
    other.issue("asp-one", "server", "2020-04-02", "--out", str(tmp_path / "o"))
    foreign = tmp_path / "o" / "asp-one-server-G2.crt"
    result = home.run("revoke", "--cert", str(foreign), "--reason", "superseded")
    assert result.code == 2
    assert _one_line(result.err) == (
        f"lgwan-sim: error: {foreign}: not a certificate of this CA home"
    )
    result = home.run("revoke", "--cert", str(crt), "--holder", "asp-one", "--reason", "superseded")
    assert result.code == 2
    assert "give one of --holder, --cert, or --issuer with --serial" in result.err
