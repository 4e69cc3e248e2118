"""Loading the hierarchy, profiles and migration plan; bad files name file, line and field."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from lgwan_sim.errors import InputError
from lgwan_sim.lgpki import CaRole, KeyType, default_pki_dir, load_hierarchy, load_migration_plan


def test_bundled_hierarchy():
    h = load_hierarchy()
    assert h.issuing_ca(CaRole.ORG, "G2").id == "org_g2"
    assert h.generations["G1"].ca_key is KeyType.RSA1024
    assert h.profile("message").key_for("G2") is KeyType.P256
    assert h.bulk["municipality"] == "role"
    assert h.role_name(h.role_oids["head"]) == "head"


def _copy(tmp_path: Path) -> Path:
    target = tmp_path / "pki"
    shutil.copytree(default_pki_dir(), target)
    return target


@pytest.mark.parametrize(
    ("file", "old", "new", "message"),
    [
        (
            "hierarchy.yaml",
            "ca_key: rsa1024",
            "ca_key: rsa512",
            r"hierarchy.yaml:\d+: ca_key: must be one of",
        ),
        (
            "hierarchy.yaml",
            "issuer: app_root_g1",
            "issuer: nowhere",
            r"issuer: names a CA that does not exist",
        ),
        (
            "profiles.yaml",
            "issuer: org",
            "issuer: mayor",
            r"profiles.yaml:\d+: issuer: must be one of",
        ),
        (
            "profiles.yaml",
            "[client_auth, message_signing]",
            "[telepathy]",
            r"unknown extended key usage",
        ),
        (
            "profiles.yaml",
            "  municipality: role",
            "  municipality: rol",
            r"profiles.yaml:\d+: municipality: unknown profile",
        ),
        (
            "hierarchy.yaml",
            "generations:",
            "generations:\n  G9: 3\n",
            r"hierarchy.yaml:\d+: G9: must be a mapping",
        ),
    ],
)
def test_bad_files_name_file_line_and_field(tmp_path, file, old, new, message):
    folder = _copy(tmp_path)
    path = folder / file
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(InputError, match=message):
        load_hierarchy(folder)


def test_migration_plan_errors_name_the_field(tmp_path):
    folder = _copy(tmp_path)
    path = folder / "migration.yaml"
    path.write_text(path.read_text().replace("laggard_ratio: 0.02", "laggard_ratio: 2"))
    with pytest.raises(
        InputError, match=r"migration.yaml:\d+: laggard_ratio: must be <= 1 \(got 2\)"
    ):
        load_migration_plan(path)
    path.write_text(path.read_text().replace("laggard_ratio: 2", "laggard_ratio: 0.5"))
    path.write_text(path.read_text().replace("g2_start: 2014-04-01", "g2_start: 2007-04-01"))
    with pytest.raises(InputError, match=r"g1_start .* must come before g2_start"):
        load_migration_plan(path)
