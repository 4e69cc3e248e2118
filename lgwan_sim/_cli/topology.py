"""``lgwan-sim topology ...``: summary, sites, export, map, route and failure."""

from __future__ import annotations

import io
import time
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from lgwan_sim._cli._common import (
    echo_json,
    out_option,
    plural,
    topology_from_options,
    topology_options,
)
from lgwan_sim._files import atomic_write
from lgwan_sim.errors import NoRouteError, TopologyError, UnknownSiteError
from lgwan_sim.network import (
    ExportFormat,
    Router,
    SiteKind,
    Topology,
    export_topology,
    summary,
)

__all__ = ["commands"]


def _console() -> Console:
    return Console(highlight=False, soft_wrap=True)


@click.group()
def topology() -> None:
    """Inspect, export, map and route over a topology (the national LGWAN by default)."""


@topology.command("summary")
@topology_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
def summary_cmd(
    topology_file: Path | None, roster: Path | None, backup_lines: bool, as_json: bool
) -> None:
    """Counts by site kind and region, links, capacity and diameter."""
    topo = topology_from_options(topology_file, roster, backup_lines)
    doc = summary(topo)
    if as_json:
        echo_json(doc)
        return
    con = _console()
    con.print(
        f"[bold]{doc['name']}[/]: {plural(doc['sites'], 'site')}, {plural(doc['links'], 'link')}"
    )
    kinds = Table("site kind", "count", title="Sites by kind")
    for kind, count in doc["sites_by_kind"].items():
        kinds.add_row(kind, str(count))
    con.print(kinds)
    regions = Table("region", "sites", title="Sites by region")
    for region, count in doc["sites_by_region"].items():
        regions.add_row(region, str(count))
    con.print(regions)
    links = Table("link kind", "count", "capacity (Gbit/s, each way)", title="Links")
    for kind, row in doc["links_by_kind"].items():
        links.add_row(kind, str(row["count"]), f"{row['capacity_bps_total'] / 1e9:,.1f}")
    con.print(links)
    if doc["connected"]:
        con.print(
            f"diameter: {plural(doc['diameter_hops'], 'hop')} "
            f"({' ↔ '.join(doc['diameter_hops_between'])}); "
            f"{doc['diameter_ms']:.3f} ms one way ({' ↔ '.join(doc['diameter_ms_between'])})"
        )
    else:
        con.print("[red]the topology is not connected[/]")


@topology.command("sites")
@topology_options
@click.option(
    "--grep",
    "text",
    metavar="TEXT",
    help="Only the sites whose id, name, Japanese name or kind contains TEXT (any case).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON: one object per site.")
def sites_cmd(
    topology_file: Path | None,
    roster: Path | None,
    backup_lines: bool,
    text: str | None,
    as_json: bool,
) -> None:
    """List the sites (id, kind, prefecture, name), or find one: --grep 盛岡市.

    Exit code 1 (not an error) when nothing matches.
    """
    topo = topology_from_options(topology_file, roster, backup_lines)
    wanted = None if text is None else text.casefold()
    found = [
        s
        for s in sorted(topo.sites.values(), key=lambda s: s.id)
        if wanted is None
        or any(wanted in field.casefold() for field in (s.id, s.name, s.name_ja, s.kind.value))
    ]
    if as_json:
        echo_json(
            [
                {
                    "id": s.id,
                    "kind": s.kind.value,
                    "name": s.name,
                    "name_ja": s.name_ja,
                    "prefecture": s.prefecture,
                    "region": s.region,
                    "campus": s.campus,
                    "lat": s.lat,
                    "lon": s.lon,
                }
                for s in found
            ]
        )
    else:
        width = max((len(s.id) for s in found), default=0)
        for s in found:
            names = s.name if not s.name_ja or s.name_ja == s.name else f"{s.name} {s.name_ja}"
            pref = s.prefecture or "-"
            click.echo(f"{s.id:<{width}}  {s.kind.value:<16} {pref:>2}  {names}")
        if not found:
            synthetic = roster is None and topology_file is None
            click.echo(
                f"no site matches {text!r}"
                + (
                    "; the synthetic municipalities have no real names: give --roster FILE "
                    "for real ones"
                    if synthetic
                    else ""
                )
            )
    if not found:
        raise click.exceptions.Exit(1)


@topology.command("export")
@topology_options
@click.option(
    "--format",
    "fmt",
    type=click.Choice([f.value for f in ExportFormat]),
    required=True,
    help="graphml (networkx, Gephi, yEd), geojson (GIS) or json (a topology file).",
)
@out_option(
    type=click.Path(dir_okay=False, path_type=Path), help="The file to write.", old="--output"
)
def export_cmd(
    topology_file: Path | None, roster: Path | None, backup_lines: bool, fmt: str, out: Path
) -> None:
    """Write the topology to a file."""
    topo = topology_from_options(topology_file, roster, backup_lines)
    if not out.parent.is_dir():
        raise TopologyError("output folder does not exist", field="--out", value=str(out))
    export_topology(topo, out, fmt)
    click.echo(
        f"wrote {out} ({fmt}: {plural(len(topo.sites), 'site')}, {plural(len(topo.links), 'link')})"
    )


@topology.command("map")
@topology_options
@out_option(
    type=click.Path(dir_okay=False, path_type=Path),
    help="The image to write: .png, .svg or .pdf.",
    old="--output",
)
@click.option("--fail", "failed", multiple=True, help="Show an element as failed (repeatable).")
def map_cmd(
    topology_file: Path | None,
    roster: Path | None,
    backup_lines: bool,
    out: Path,
    failed: tuple[str, ...],
) -> None:
    """Draw the network over the prefectures of Japan (PNG, SVG or PDF by extension)."""
    topo = topology_from_options(topology_file, roster, backup_lines)
    router = Router(topo)
    _apply_failures(topo, router, failed)
    if not out.parent.is_dir():
        raise TopologyError("output folder does not exist", field="--out", value=str(out))
    if out.suffix.lower() not in (".png", ".svg", ".pdf"):
        raise TopologyError(
            "map output must end in .png, .svg or .pdf", field="--out", value=str(out)
        )
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from lgwan_sim.report import plot_network_map

    fig, ax = plt.subplots(figsize=(9, 10), dpi=120)
    plot_network_map(
        topo,
        ax,
        failed_links=router.down_links,
        failed_sites=router.down_sites,
        title=f"{topo.name}: {', '.join(failed)} failed" if failed else None,
    )
    fig.tight_layout()
    buffer = io.BytesIO()
    try:
        fig.savefig(
            buffer,
            format=out.suffix.lower().lstrip("."),
            metadata={"Software": None} if out.suffix.lower() == ".png" else None,
        )
    finally:
        plt.close(fig)
    atomic_write(out, buffer.getvalue(), mode=0o666)
    click.echo(f"wrote {out}")


def _count(n: int, one: str, many: str | None = None) -> str:
    """``1 site``, ``2 sites``: a count with its noun in the right number."""
    return f"{n:,} {one if n == 1 else (many or one + 's')}"


def _apply_failures(topo: Topology, router: Router, elements: tuple[str, ...]) -> set[str]:
    """Fail each element (a link id ``a~b``, a site id, or ``campus:east``).

    Returns the roots of the shortest-path trees that had to be recomputed.
    """
    recomputed: set[str] = set()
    for element in elements:
        if element.startswith("campus:"):
            change = router.fail_campus(element.removeprefix("campus:"))
        elif "~" in element:
            change = router.fail_links([element])
        elif element in topo.sites:
            change = router.fail_sites([element])
        else:
            raise UnknownSiteError(
                element,
                hint="expected a site id, a link 'a~b' or 'campus:NAME'",
                choices=topo.sites,
            )
        recomputed.update(change.recomputed_roots)
    return recomputed


@topology.command("route")
@topology_options
@click.argument("src")
@click.argument("dst")
@click.option("--fail", "failed", multiple=True, help="Fail an element first (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def route_cmd(
    topology_file: Path | None,
    roster: Path | None,
    backup_lines: bool,
    src: str,
    dst: str,
    failed: tuple[str, ...],
    as_json: bool,
) -> None:
    """The shortest path from SRC to DST: hops, one-way delay and bottleneck capacity.

    Exit code 1 (not an error) when there is no route, e.g. after ``--fail``.
    """
    topo = topology_from_options(topology_file, roster, backup_lines)
    router = Router(topo)
    _apply_failures(topo, router, failed)
    try:
        route = router.route(src, dst)
    except NoRouteError as exc:
        # A valid answer about a valid question; bad input (an unknown site) stays exit 2.
        if as_json:
            echo_json(
                {
                    "src": src,
                    "dst": dst,
                    "path": None,
                    "links": None,
                    "hops": None,
                    "delay_ms": None,
                    "bottleneck_bps": None,
                    "failed": list(failed),
                }
            )
        else:
            click.echo(str(exc))
        raise click.exceptions.Exit(1) from None
    doc = {
        "src": src,
        "dst": dst,
        "path": list(route.sites),
        "links": [lk.id for lk in route.links],
        "hops": route.hops,
        "delay_ms": round(route.delay_s * 1e3, 4),
        "bottleneck_bps": route.bottleneck_bps if route.links else None,  # inf is not JSON
        "failed": list(failed),
    }
    if as_json:
        echo_json(doc)
        return
    con = _console()
    names = [f"{s} ({topo.sites[s].name})" for s in route.sites]
    con.print(" →\n".join(names))
    con.print(
        f"{plural(route.hops, 'hop')}, {route.delay_s * 1e3:.3f} ms one way, "
        f"bottleneck {route.bottleneck_bps / 1e6:,.0f} Mbit/s"
    )


@topology.command("failure")
@topology_options
@click.argument("elements", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def failure_cmd(
    topology_file: Path | None,
    roster: Path | None,
    backup_lines: bool,
    elements: tuple[str, ...],
    as_json: bool,
) -> None:
    """Fail ELEMENTS (site ids, links 'a~b', 'campus:east') and report who is cut off.

    Routes are computed from every local body toward every central site, data centre and
    LGWAN-ASP site; after the failure only the affected trees are recomputed.
    """
    topo = topology_from_options(topology_file, roster, backup_lines)
    router = Router(topo)
    hubs = [s.id for s in topo.sites_of_kind(SiteKind.CENTRAL, SiteKind.DATA_CENTRE, SiteKind.ASP)]
    bodies = [s.id for s in topo.sites_of_kind(SiteKind.PREFECTURE, SiteKind.MUNICIPALITY)]
    t0 = time.perf_counter()
    router.warm(hubs)
    warm_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    recomputed = _apply_failures(topo, router, elements)
    live_hubs = [h for h in hubs if router.site_is_up(h)]
    lost = router.unreachable_pairs([b for b in bodies if router.site_is_up(b)], live_hubs)
    fail_s = time.perf_counter() - t0
    cut_off = sorted({b for b, _ in lost})
    down_bodies = sorted(b for b in bodies if not router.site_is_up(b))
    # A failed site takes its own lines down with it.
    lines_down = sorted(
        router.down_links | {lk.id for s in router.down_sites for lk in topo.links_of_site(s)}
    )
    doc = {
        "failed": list(elements),
        "down_links": lines_down,
        "down_sites": sorted(router.down_sites),
        "trees": len(hubs),
        "routes_s": round(warm_s, 6),
        "recompute_s": round(fail_s, 6),
        "trees_recomputed": len(recomputed),
        "unreachable_pairs": len(lost),
        "local_bodies_cut_off": cut_off,
        "local_bodies_down": down_bodies,
    }
    if as_json:
        echo_json(doc)
        return
    con = _console()
    con.print(
        f"failed {', '.join(elements)}: {_count(len(router.down_sites), 'site')} and "
        f"{_count(len(lines_down), 'link')} down"
    )
    con.print(
        f"routes to {_count(len(hubs), 'hub')} in {warm_s * 1e3:.1f} ms; "
        f"{_count(len(recomputed), 'tree')} recomputed after the failure in "
        f"{fail_s * 1e3:.1f} ms"
    )
    con.print(
        f"{_count(len(cut_off), 'local body', 'local bodies')} cut off from at least one hub "
        f"({_count(len(lost), 'body-hub pair')}); "
        f"{_count(len(down_bodies), 'local body', 'local bodies')} down themselves"
    )
    for body in cut_off[:20]:
        con.print(f"  {body}  {topo.sites[body].name}")
    if len(cut_off) > 20:
        con.print(f"  … and {len(cut_off) - 20} more (use --json for all)")


commands = [topology]
