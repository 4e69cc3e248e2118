"""The service catalogue: every bundled service loads and every number carries its basis."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from lgwan_sim._resources import bundled_dir
from lgwan_sim._yaml import LineDict, load_yaml
from lgwan_sim.errors import ScenarioError
from lgwan_sim.network import build_national
from lgwan_sim.traffic import (
    BasisKind,
    ServiceCategory,
    SizeDist,
    SizeKind,
    load_catalogue,
    load_service,
)
from tests.support import modules_loaded

BASIC = {
    "mail-relay",
    "document-exchange",
    "directory",
    "bulletin-board",
    "e-learning",
    "ceptoar-alert",
}
ASP = {
    "eltax",
    "eltax-pension",
    "konbini",
    "disaster-support",
    "mynumber-linkage",
    "resident-identity",
    "koseki-backup",
    "municipal-cloud-hokkaido",
    "municipal-cloud-kyoto",
    "municipal-cloud-saga",
}
#: Run only when a scenario names them (or, for the broadcast, has a ceptoar_alert event).
OPT_IN = {
    "ceptoar-alert",
    "koseki-backup",
    "municipal-cloud-hokkaido",
    "municipal-cloud-kyoto",
    "municipal-cloud-saga",
}


def test_the_catalogue_holds_the_basic_and_asp_services() -> None:
    cat = load_catalogue()
    assert set(cat.names()) == BASIC | ASP
    assert {n for n in cat.names() if cat[n].opt_in} == OPT_IN
    assert {n for n in cat.names() if cat[n].category is ServiceCategory.BASIC} == BASIC


def _numbers_without_basis(node: object, path: str = "") -> list[str]:
    """Independent walk over the raw YAML: every number must sit in a mapping with a basis."""
    missing: list[str] = []
    if isinstance(node, dict):
        has_basis = ("source" in node) != ("assumption" in node)
        for key, value in node.items():
            sub = f"{path}.{key}" if path else key
            if isinstance(value, int | float) and not isinstance(value, bool) and not has_basis:
                missing.append(sub)
            elif (
                isinstance(value, list) and value and all(isinstance(v, int | float) for v in value)
            ):
                if not has_basis:
                    missing.append(sub)
            else:
                missing.extend(_numbers_without_basis(value, sub))
    return missing


@pytest.mark.parametrize("name", sorted(BASIC | ASP))
def test_every_number_in_a_service_file_carries_a_source_or_an_assumption(name: str) -> None:
    doc = load_yaml(bundled_dir("services") / name / "service.yaml")
    assert isinstance(doc, LineDict)
    assert _numbers_without_basis(doc) == []


def test_sourced_figures_cite_a_public_reference() -> None:
    cat = load_catalogue()
    konbini = cat["konbini"]
    assert konbini.profile.window_h == (6.5, 23.0)
    assert konbini.profile.bases["window_h"].kind is BasisKind.SOURCE
    assert "tkc.jp" in konbini.profile.bases["window_h"].text
    assert konbini.callers.share is not None
    assert konbini.callers.share.basis.kind is BasisKind.SOURCE
    assert konbini.callers.share.value == pytest.approx(402 / 1741, abs=0.001)


def test_tax_season_is_january_to_march() -> None:
    monthly = load_catalogue()["eltax"].profile.monthly
    assert min(monthly[:3]) > 2 * max(monthly[3:])
    assert sum(monthly) / 12 == pytest.approx(1.0)


def test_hosts_of_every_service_exist_in_the_national_topology() -> None:
    national = build_national()
    for spec in load_catalogue().services.values():
        assert spec.host.primary in national
        assert spec.host.secondary is None or spec.host.secondary in national


def test_caller_share_is_a_fixed_subset_independent_of_anything_but_names() -> None:
    national = build_national()
    spec = load_catalogue()["konbini"]
    first = spec.callers.resolve(national, "konbini")
    assert first == spec.callers.resolve(build_national(), "konbini")
    assert first != spec.callers.resolve(national, "other-name")


def test_a_service_folder_must_match_its_name(tmp_path: Path) -> None:
    folder = tmp_path / "mail"
    folder.mkdir()
    shutil.copy(bundled_dir("services") / "mail-relay" / "service.yaml", folder / "service.yaml")
    with pytest.raises(
        ScenarioError, match=r"service\.yaml:\d+: name: must equal the folder name 'mail'"
    ):
        load_service(folder / "service.yaml")


def test_a_profile_needs_twenty_four_hourly_weights(tmp_path: Path) -> None:
    folder = tmp_path / "directory"
    folder.mkdir()
    text = (bundled_dir("services") / "directory" / "service.yaml").read_text(encoding="utf-8")
    text = text.replace("value: [0.02, 0.01, 0.01, ", "value: [0.01, 0.01, ", 1)
    (folder / "service.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(
        ScenarioError, match=r"profile\.hourly\.value: must have 24 weights \(got '23 weights'\)"
    ):
        load_service(folder / "service.yaml")


def test_the_catalogue_loads_without_the_scenario_package() -> None:
    # An emulated municipality reads the catalogue; it must not pull in scenario/.
    code = (
        "from lgwan_sim.traffic import load_catalogue\nassert len(load_catalogue().names()) == 16"
    )
    assert modules_loaded(code, ("lgwan_sim.scenario",)) == []


@pytest.mark.parametrize(
    ("text", "dist"),
    [
        ("{dist: fixed, bytes: 2000", SizeDist.fixed(2000.0)),
        ("{dist: exponential, mean_bytes: 2000", SizeDist.exponential(2000.0)),
        ("{dist: lognormal, mean_bytes: 2000, sigma: 1.5", SizeDist.lognormal(2000.0, 1.5)),
        ("{dist: empirical, values_bytes: [1000, 2000, 6000]", SizeDist.empirical([1e3, 2e3, 6e3])),
    ],
)
def test_a_size_in_a_service_file_is_the_distribution_the_engine_samples(
    tmp_path: Path, text: str, dist: SizeDist
) -> None:
    folder = tmp_path / "eltax"
    folder.mkdir()
    original = (bundled_dir("services") / "eltax" / "service.yaml").read_text(encoding="utf-8")
    old = "response_size:\n  dist: fixed\n  bytes: 2000\n  assumption: acceptance receipt\n"
    assert old in original
    new = f'response_size: {text}, assumption: "a receipt"}}\n'
    (folder / "service.yaml").write_text(original.replace(old, new), encoding="utf-8")
    size = load_service(folder / "service.yaml").response_size
    assert size.dist == dist
    assert size.dist.kind is dist.kind
    assert size.basis.text == "a receipt"


def test_there_is_one_size_kind() -> None:
    import lgwan_sim.scenario

    assert lgwan_sim.scenario.SizeKind is SizeKind
    assert {k.value for k in SizeKind} == {"fixed", "exponential", "lognormal", "empirical"}
    assert load_catalogue()["eltax"].request_size.dist.kind is SizeKind.LOGNORMAL
