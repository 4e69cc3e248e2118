"""``lgwan-sim pki ...`` in-process: each command once, and bad input in one line, exit 2."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from lgwan_sim.cli import main
from lgwan_sim.lgpki import Pki, default_pki_dir
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


@pytest.fixture(scope="module")
def cli_home(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A home made by ``pki init`` with G2 only (P-256 keys keep the bulk issue fast)."""
    root = tmp_path_factory.mktemp("cli")
    topo = root / "tiny.yaml"
    topo.write_text(TOPOLOGY, encoding="utf-8")
    home = root / "home"
    # init through the library with a cheap KDF, then let the CLI find the passphrase file
    (root / "pass").write_text("cli-test-passphrase\n")
    with Pki.create(
        home,
        passphrase=b"cli-test-passphrase",
        now=_dt("2020-04-01"),
        generations=["G2"],
        scrypt_n=SCRYPT_N,
    ):
        pass
    return home, topo


def _dt(text: str):
    from datetime import UTC, datetime

    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _run(cli: Callable[..., CliResult], home: Path, *args: str) -> CliResult:
    return cli("pki", "--home", home, "--passphrase-file", home.parent / "pass", *args)


def test_init_creates_a_home_with_a_passphrase_file(tmp_path, capsys):
    home = tmp_path / "h"
    assert (
        main(
            ["pki", "--home", str(home), "init", "--at", "2020-04-01T00:00Z", "--generation", "G2"]
        )
        == 0
    )
    assert "initialised" in capsys.readouterr().out
    assert (home / "passphrase").stat().st_mode & 0o777 == 0o600
    assert main(["pki", "--home", str(home), "init"]) == 2
    assert "already holds a CA store" in capsys.readouterr().err


def test_init_with_an_unknown_generation_leaves_no_store(tmp_path, capsys):
    home = tmp_path / "h"
    assert main(["pki", "--home", str(home), "init", "--generation", "G9"]) == 2
    assert "unknown generation 'G9'; known: G1, G2, GPKI" in capsys.readouterr().err
    assert not (home / "pki.sqlite3").exists()  # so that a corrected init can run
    assert not home.exists()  # nor anything else: not even the passphrase file


def test_init_with_a_broken_pki_dir_writes_nothing(tmp_path, capsys):
    pki_dir = tmp_path / "pki"
    pki_dir.mkdir()
    for name in ("hierarchy.yaml", "profiles.yaml", "migration.yaml"):
        (pki_dir / name).write_text((default_pki_dir() / name).read_text(encoding="utf-8"))
    hierarchy = pki_dir / "hierarchy.yaml"
    hierarchy.write_text(hierarchy.read_text().replace("hash: sha1", "hash: md5"))
    home = tmp_path / "h"
    assert main(["pki", "--home", str(home), "init", "--pki-dir", str(pki_dir)]) == 2
    assert "hash: must be one of sha1, sha256 (got 'md5')" in capsys.readouterr().err
    assert not home.exists()


def test_issue_revoke_crl_verify_status_audit(cli_home, tmp_path, cli):
    home, topo = cli_home
    at = ["--at", "2020-05-01T00:00Z"]
    result = _run(cli, home, "issue", "--all", "--topology", str(topo), "--key-type", "p256", *at)
    assert result.code == 0
    assert "issued 4 certificates (4 G2)" in result.out
    out = tmp_path / "out"
    result = _run(
        cli,
        home,
        "issue",
        "--site",
        "asp-one",
        "--profile",
        "server",
        "--topology",
        str(topo),
        "--out",
        str(out),
        *at,
    )
    assert result.code == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "asp-one-server-G2.crt",
        "asp-one-server-G2.key",
    ]
    result = _run(cli, home, "crl", "--at", "2020-05-01T01:00Z")
    assert result.code == 0
    result = _run(
        cli, home, "verify", str(out / "asp-one-server-G2.crt"), "--at", "2020-05-01T02:00Z"
    )
    assert result.code == 0
    assert result.out.startswith("OK: CN=asp-one.lg.jp")

    payload = tmp_path / "payload.txt"
    payload.write_text("hello")
    msg = tmp_path / "msg.bin"
    result = _run(
        cli,
        home,
        "sign",
        "--site",
        "pref-01",
        "--topic",
        "notice",
        "--payload",
        str(payload),
        "--out",
        str(msg),
        "--at",
        "2020-05-01T02:00Z",
    )
    assert result.code == 0
    result = _run(cli, home, "verify", str(msg), "--role", "head", "--at", "2020-05-01T02:01Z")
    assert result.code == 0
    assert "OK: message from pref-01" in result.out

    result = _run(
        cli,
        home,
        "revoke",
        "--holder",
        "pref-01",
        "--reason",
        "key_compromise",
        "--at",
        "2020-05-01T03:00Z",
    )
    assert result.code == 0
    result = _run(cli, home, "verify", str(msg), "--at", "2020-05-01T03:01Z")
    assert result.code == 1  # rejected
    assert result.err.startswith("REJECTED: revoked: ")

    result = _run(cli, home, "status", "--at", "2020-05-01T04:00Z")
    assert result.code == 0
    status = result.out
    assert "org_g2" in status
    assert "holders of valid G2 certificates: 3" in status

    log = tmp_path / "audit.jsonl"
    result = _run(cli, home, "audit", "--export", str(log))
    assert result.code == 0
    assert "integrity OK" in result.out
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert records[-1]["action"] == "publish-arl"


def test_issue_from_csr(cli_home, tmp_path, cli):
    home, topo = cli_home
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "x")]))
        .sign(key, hashes.SHA256())
    )
    path = tmp_path / "req.pem"
    path.write_bytes(csr.public_bytes(Encoding.PEM))
    args = [
        "issue",
        "--site",
        "asp-one",
        "--profile",
        "message",
        "--csr",
        str(path),
        "--topology",
        str(topo),
    ]
    result = _run(cli, home, *args, "--at", "2020-05-02T00:00Z")
    assert result.code == 0
    assert "asp-one message app_sub_g2" in result.out


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["revoke", "--holder", "nobody", "--reason", "superseded"], "holds no valid certificate"),
        (
            ["revoke", "--issuer", "org_g2", "--serial", "xyz", "--reason", "superseded"],
            "--serial: not a hexadecimal serial (got 'xyz')",
        ),
        (
            ["crl", "--at", "yesterday"],
            "--at: not an ISO date or date-time (JST unless an offset such as Z is given) (got 'yesterday')",
        ),
        (["issue", "--site", "mars", "--profile", "role"], "unknown site 'mars'"),
        (["issue", "--site", "asp-one", "--profile", "wizard"], "unknown profile 'wizard'"),
        (["revoke", "--holder", "x", "--reason", "bored"], "Invalid value for '--reason'"),
        (["verify", "--anchor", "nope", "{payload}"], "nope.pem is missing from the repository"),
        (["issue", "--all", "--profile", "server"], "--profile applies to --site"),
        (["audit", "--export", "{payload}/log.jsonl"], "File exists"),
        (
            ["revoke", "--holder", "asp-one", "--issuer", "org_g2", "--reason", "superseded"],
            "give one of --holder, --cert, or --issuer with --serial",
        ),
        (
            [
                *("issue", "--site", "asp-one", "--profile", "message"),
                *("--csr", "{payload}", "--key-type", "p256"),
            ],
            "--key-type does not apply to --csr",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(cli_home, tmp_path, cli, args, needle):
    home, topo = cli_home
    payload = tmp_path / "p.pem"
    payload.write_text("junk")
    args = [a.replace("{payload}", str(payload)) for a in args]
    if args[0] == "issue":
        args += ["--topology", str(topo), "--at", "2020-05-03T00:00Z"]
    before = sorted(p.relative_to(home) for p in home.rglob("*") if "sqlite3" not in p.name)
    result = _run(cli, home, *args)
    assert result.code == 2
    err = result.err.strip()
    assert len(err.splitlines()) == 1, err
    assert needle in err
    after = sorted(p.relative_to(home) for p in home.rglob("*") if "sqlite3" not in p.name)
    assert after == before


def test_bad_csr_names_the_file(cli_home, tmp_path, cli):
    home, topo = cli_home
    bad = tmp_path / "bad.pem"
    bad.write_text("not a csr")
    result = _run(
        cli,
        home,
        "issue",
        "--site",
        "asp-one",
        "--profile",
        "message",
        "--csr",
        str(bad),
        "--topology",
        str(topo),
    )
    assert result.code == 2
    err = result.err
    assert f"{bad}: --csr: not a PEM certificate signing request" in err


def test_verify_of_a_broken_certificate_names_the_file(cli_home, tmp_path, cli):
    home, _ = cli_home
    bad = tmp_path / "bad.pem"
    bad.write_text("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    result = _run(cli, home, "verify", "--at", "2020-05-03T00:00Z", str(bad))
    assert result.code == 2
    err = result.err.strip()
    assert err == f"lgwan-sim: error: {bad}: not a readable PEM certificate"


def test_missing_passphrase_file(cli_home, tmp_path, capsys):
    home, _ = cli_home
    missing = tmp_path / "none"
    args = ["pki", "--home", str(home), "--passphrase-file", str(missing), "status"]
    assert main(args) == 2
    assert capsys.readouterr().err.strip() == (
        f"lgwan-sim: error: {missing}: passphrase file not found"
    )


def test_migrate_reports_g1_holders_per_date(cli_home, tmp_path, capsys):
    _, topo = cli_home
    home = tmp_path / "mig"
    plan = tmp_path / "migration.yaml"
    plan.write_text(
        "g1_start: 2008-04-01\ng2_start: 2014-04-01\ng1_issuance_stop: 2015-01-26\n"
        "g1_acceptance_stop: 2016-12-20\nalgorithm_compromise: 2017-02-23\n"
        "laggard_ratio: 1.0\nseed: 1\n"
    )
    args = ["migrate", "--plan", str(plan), "--topology", str(topo)]
    assert main(["pki", "--home", str(home), *args]) == 0
    out = capsys.readouterr().out
    lines = {line.split()[0]: line for line in out.splitlines() if line[:2] == "20"}
    assert all(line.split()[1:3] == ["4", "0"] for d, line in lines.items() if d < "2014-04-01")
    # every site is a laggard: the heads' three-year role certificates are still G1 at the
    # stop, while the services' one-year message certificates had to be renewed into G2
    assert lines["2016-12-20"].split()[1:3] == ["2", "2"]
    assert lines["2014-04-01"].split()[4:6] == ["accepted", "accepted"]
    assert "weak-hash" in lines["2016-12-20"]
    assert "ca-revoked" in lines["2017-02-23"]
    assert out.rstrip().endswith("still on G1 at the acceptance stop: 2 mun-01-001 pref-01")


def test_migrate_follows_the_dates_of_its_plan(cli_home, tmp_path, capsys):
    # later stops than the bundled plan, and no algorithm compromise
    _, topo = cli_home
    home = tmp_path / "mig"
    plan = tmp_path / "migration.yaml"
    plan.write_text(
        "g1_start: 2008-04-01\ng2_start: 2014-04-01\ng1_issuance_stop: 2016-01-26\n"
        "g1_acceptance_stop: 2018-12-20\nlaggard_ratio: 1.0\nseed: 1\n"
    )
    args = ["migrate", "--plan", str(plan), "--topology", str(topo), "--step-days", "365"]
    assert main(["pki", "--home", str(home), *args]) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    lines = {line.split()[0]: line for line in out.splitlines() if line[:2] == "20"}
    assert "g1_issuance_stop" in lines["2016-01-26"]
    # G1 is still issued after the bundled plan's stop (2015-01-26) and accepted after its
    # acceptance stop (2016-12-20)
    assert lines["2015-03-31"].split()[3] == "2"
    assert lines["2017-03-30"].split()[1:6] == ["2", "2", "2", "accepted", "accepted"]
    assert (home / "config" / "migration.yaml").read_bytes() == plan.read_bytes()


def test_renew_moves_a_holder_to_new_keys(cli_home, cli):
    home, topo = cli_home
    result = _run(
        cli,
        home,
        "issue",
        "--site",
        "asp-one",
        "--profile",
        "message",
        "--topology",
        str(topo),
        "--at",
        "2020-06-01T00:00Z",
    )
    assert result.code == 0
    result = _run(cli, home, "renew", "--holder", "asp-one", "--at", "2020-06-02T00:00Z")
    assert result.code == 0
    lines = result.out.splitlines()
    assert lines
    assert all(line.startswith("renewed asp-one ") for line in lines)
    with Pki.open(home, passphrase=b"cli-test-passphrase") as pki:
        valid = [
            c for c in pki.certificates(holder="asp-one", status="V") if c.profile == "message"
        ]
        assert len(valid) == 1
