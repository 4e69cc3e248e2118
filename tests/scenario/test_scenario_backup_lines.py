"""A backup line has one definition: the national builder's and a scenario edit's agree.

``links.backup.enabled`` gives every local body of the national network a backup line to
its nearest central site; a ``backup_lines`` edit gives one to the sites it names. For the
same site, capacity and penalty, the two must be the same line (only ``basis`` says where
it came from): the same far end, kind, capacity, delay (the spec's equipment delay
included) and routing metric.
"""

from __future__ import annotations

import dataclasses

from lgwan_sim.network import LinkKind, build_national
from lgwan_sim.scenario import load_scenario

SITES = ("mun-03-001", "pref-47", "mun-13-005")


def test_a_backup_edit_adds_the_line_the_national_builder_adds(write_scenario) -> None:
    national = build_national(backup_lines=True)
    path = write_scenario(
        f"""\
        topology: national
        start: 2026-02-16
        duration: 1h
        seed: 1
        edits:
          - {{kind: backup_lines, sites: [{", ".join(SITES)}], capacity_bps: 1.0e+7}}
        """
    )
    edited = load_scenario(path).topology
    for site in SITES:
        (want,) = [lk for lk in national.links_of_site(site) if lk.kind is LinkKind.BACKUP]
        (got,) = [lk for lk in edited.links_of_site(site) if lk.kind is LinkKind.BACKUP]
        assert dataclasses.replace(got, basis=want.basis) == want, site
        assert got.basis == "scenario edit: backup line"
