"""Shared test data for the scenario tests (``from tests.scenario.support import SMALL``)."""

from __future__ import annotations

from pathlib import Path

from lgwan_sim._resources import bundled_dir

HERE = Path(__file__).resolve().parent
BROKEN = HERE / "broken"

#: The bundled ``packet-zoom`` study network (five sites, four links, two services on two
#: ASP sites, a cable cut, a data-centre loss and a surge), renamed and set to the analytic
#: fidelity: fast everywhere, and the tests edit its text line by line.
PACKET_ZOOM = (bundled_dir("scenarios") / "packet-zoom.yaml").read_text(encoding="utf-8")
SMALL = PACKET_ZOOM.replace("name: packet-zoom", "name: small", 1).replace(
    "fidelity: packet", "fidelity: analytic", 1
)
assert SMALL.count("name: small") == 1
assert "fidelity: analytic" in SMALL
