"""``lgwan-sim emulate`` and ``lgwan-sim serve``: the ZeroMQ emulator and reference services."""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import shutil
import signal
import sys
import time
from pathlib import Path
from typing import Any

import click

from lgwan_sim._cli._common import out_option, plural
from lgwan_sim._cli.scenario import _load, resolve_scenario
from lgwan_sim.errors import InputError

__all__ = ["commands"]


def _speed(text: str) -> float:
    if text.strip().lower() == "max":
        return math.inf
    try:
        value = float(text.rstrip("x×"))
    except ValueError:
        raise InputError(
            "a factor such as 1, 60 or 60x, or max", field="--speed", value=text
        ) from None
    if not (math.isfinite(value) and value > 0):
        raise InputError("must be > 0 (or max)", field="--speed", value=text)
    return value


class _Seconds(click.FloatRange):
    """A ``FloatRange`` of seconds that refuses NaN, and infinity unless ``forever`` allows it
    (click's range lets NaN through, and the emulator would refuse it only after issuing the
    test bed's keys into the output folder)."""

    def __init__(self, *, min_open: bool, forever: bool) -> None:
        super().__init__(min=0, min_open=min_open)
        self.forever = forever

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        seconds = super().convert(value, param, ctx)
        if math.isnan(seconds) or (math.isinf(seconds) and not self.forever):
            self.fail(f"{seconds} is not a finite number of seconds.", param, ctx)
        return seconds


@click.command("emulate")
@click.argument("scenario")
@out_option(
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for endpoints.json and the keys (at once), and the run's outputs (at the end).",
)
@click.option(
    "--speed",
    default="1",
    show_default=True,
    help="Simulated seconds per wall second (60 or 60x: an hour a minute), or max: virtual "
    "time as fast as possible, every endpoint simulated.",
)
@click.option("--duration", help="Emulate only the first part of the scenario, e.g. 10m.")
@click.option(
    "--bind",
    default="tcp://127.0.0.1:0",
    show_default=True,
    help="Where the broker listens (port 0: one the system chooses).",
)
@click.option(
    "--fidelity",
    type=click.Choice(["flow", "packet"]),
    help="The engine behind the emulator (default: the scenario's; analytic becomes packet).",
)
@click.option("--seed", type=click.IntRange(min=0), help="Override the scenario's seed.")
@click.option("--set", "settings", multiple=True, metavar="PATH=VALUE", help="As run --set.")
@click.option("--trace", is_flag=True, help="Write trace.csv: every message that met a program.")
@click.option(
    "--delivery-info", is_flag=True, help="Add frame 7 (the modelled delay) to what programs get."
)
@click.option(
    "--hold",
    default=5.0,
    show_default=True,
    type=_Seconds(min_open=False, forever=True),
    help="Simulated seconds a request waits for a restarted service before it is lost.",
)
@click.option(
    "--client-idle",
    default=60.0,
    show_default=True,
    type=_Seconds(min_open=True, forever=True),
    help="Wall seconds after which a silent client (a program serving nothing) is forgotten.",
)
@click.option(
    "--max-outstanding",
    default=10_000,
    show_default=True,
    type=click.IntRange(min=1),
    help="Requests a program may have unanswered; beyond that they are lost as backlog (503).",
)
@click.option(
    "--ttl",
    "request_ttl",
    default=30.0,
    show_default=True,
    type=_Seconds(min_open=True, forever=False),
    help="Wall seconds a simulated local body waits for a program's answer (unanswered after).",
)
@click.option(
    "--control-host",
    default="127.0.0.1",
    show_default=True,
    help="Where the control API listens (beyond loopback it needs the token of endpoints.json).",
)
@click.option("--no-control", is_flag=True, help="No control API.")
@click.option("--overwrite", is_flag=True, help="Replace a non-empty folder.")
@click.option("--no-plots", is_flag=True, help="Write summary and CSVs only.")
@click.option("-q", "--quiet", is_flag=True, help="No lines on stderr but warnings and errors.")
def emulate(
    scenario: str,
    out: Path,
    speed: str,
    duration: str | None,
    bind: str,
    fidelity: str | None,
    seed: int | None,
    settings: tuple[str, ...],
    trace: bool,
    delivery_info: bool,
    hold: float,
    client_idle: float,
    max_outstanding: int,
    request_ttl: float,
    control_host: str,
    no_control: bool,
    overwrite: bool,
    no_plots: bool,
    quiet: bool,
) -> None:
    """Emulate a scenario: real programs connect over ZeroMQ (EMW1) to simulated LGWAN.

    Writes OUT/endpoints.json as soon as the broker listens; runs to the scenario's end or
    until SIGINT or SIGTERM; then writes the outputs of `run` into OUT, with what was in
    flight counted, and prints a one-line summary.
    """
    from lgwan_sim.backbone import Emulator, Testbed, service_hosts
    from lgwan_sim.lgpki import SiteInfo
    from lgwan_sim.scenario import (
        RunOutcome,
        check_out_dir,
        engine_inputs,
        summarise,
        write_json,
        write_run,
    )

    factor = _speed(speed)
    path = resolve_scenario(scenario)
    extra = (f"duration={duration}",) if duration else ()
    sc = _load(path, settings + extra, seed=seed)
    chosen = fidelity or (sc.fidelity if sc.fidelity != "analytic" else "packet")
    if chosen != sc.fidelity:
        sc = _load(path, settings + extra, seed=seed, fidelity=chosen)
    inputs = engine_inputs(sc)
    out = out.absolute()
    check_out_dir(out, overwrite=overwrite)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)

    def say(text: str) -> None:
        if not quiet:
            click.echo(f"lgwan-sim: {text}", err=True)

    began = time.perf_counter()
    topo = inputs.topology
    sites = [
        SiteInfo(id=s.id, kind=str(s.kind), name=s.name, name_ja=s.name_ja)
        for s in (topo.sites[k] for k in sorted(topo.sites))
    ]
    testbed = Testbed.issue(out / "testbed", sites)
    say(
        f"issued {plural(len(testbed.registry), 'identity', 'identities')} in {time.perf_counter() - began:.1f}s"
    )
    emu = Emulator(
        inputs,
        testbed,
        hosts=service_hosts(inputs),
        speed=factor,
        bind=bind,
        hold_s=hold,
        client_idle_s=client_idle,
        max_outstanding=max_outstanding,
        request_ttl_s=request_ttl,
        delivery_info=delivery_info,
        trace=trace,
    )
    address = emu.start()
    api = None
    token = None
    if not no_control:
        import secrets

        from lgwan_sim.backbone import ControlServer

        token = (
            None if control_host in ("127.0.0.1", "localhost", "::1") else secrets.token_urlsafe(24)
        )
        assert emu.ctx is not None
        api = ControlServer(emu.ctx, emu.control_address, host=control_host, token=token)
        api.start()
    endpoints = {
        "broker": address,
        "broker_curve_key": emu.curve_public,
        "control": api.url if api is not None else None,
        "control_token": token,
        "events": emu.events_address,
        "registry": str(out / "testbed" / "registry.json"),
        "keys": str(out / "testbed" / "keys.json"),
        "pki_repository": str(testbed.repository),
        "scenario": sc.name,
        # how to load the same scenario again (the live dashboard draws its network)
        "scenario_file": str(path.absolute()),
        "settings": list(settings + extra),
        "seed": seed,
        "speed": "max" if factor == math.inf else factor,
        "hosts": {s.name: s.primary for s in inputs.demand.services},
    }
    write_json(out / "endpoints.json", endpoints)
    say(f"listening on {address}; endpoints in {out / 'endpoints.json'}")

    def stop(signum: int, frame: Any) -> None:
        emu.stop()

    old = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        wall0 = time.perf_counter()
        lateness = emu.run()
        wall = time.perf_counter() - wall0
        if api is not None:
            api.stop()
        result = emu.finish()
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)
    tables = summarise(sc, result, inputs.config, timeline=inputs.timeline.events)
    emulation = {
        "speed": "max" if factor == math.inf else factor,
        "ended_at_s": result.duration_s,
        "wall_s": round(wall, 3),
        "lateness_ms": {
            "steps": lateness.steps,
            "p50": round(lateness.p50_s * 1e3, 4),
            "p99": round(lateness.p99_s * 1e3, 4),
            "max": round(lateness.max_s * 1e3, 4),
        },
        "delivery_error_ms": _error_ms(emu.delivery_late),
        "callers_of_real_programs": len(emu.callers_served),
        "messages": emu.stats.to_json(),
        "signing_nonces": {
            "made": emu.nonces.made,
            "used": emu.nonces.used,
            "signed_without": emu.nonces.without,
        },
        "replies_rejected_by_reason": dict(sorted(emu.e2e.rejected.items())),
        "faults": emu.fault_log,
    }
    tables = dataclasses.replace(
        tables, summary=dataclasses.replace(tables.summary, emulation=emulation)
    )
    outcome = RunOutcome(scenario=sc, inputs=inputs, result=result, tables=tables, wall_s=wall)
    render = None
    if not no_plots:
        from lgwan_sim.report import write_run_report

        render = write_run_report
    staging = out / ".results"
    write_run(
        outcome,
        staging,
        render=render,
        overwrite=True,
        command=["lgwan-sim", "emulate", *sys.argv[2:]],
    )
    for item in staging.iterdir():
        item.rename(out / item.name)
    staging.rmdir()
    if trace:
        _write_trace(out / "trace.csv", emu.trace)
    totals = tables.summary.totals
    st = emu.stats
    click.echo(
        f"{sc.name}: emulated {result.duration_s:.0f}s at "
        f"{'max' if factor == math.inf else f'{factor:g}x'}: {totals.offered} offered, "
        f"{totals.delivered} delivered, {totals.dropped_total} dropped, "
        f"{totals.in_flight} in flight; {st.requests_to_services} requests to real services, "
        f"{st.requests_from_clients} from real clients; results in {out}"
    )


def _error_ms(reservoir: Any) -> dict[str, Any]:
    """How late requests reached real programs against the model: nearest-rank percentiles."""
    from lgwan_sim.engine import Lateness

    late = Lateness.of(
        reservoir.samples, steps=reservoir.seen, max_s=reservoir.max if reservoir.seen else None
    )
    return {
        "requests": late.steps,
        "p50": round(late.p50_s * 1e3, 4),
        "p99": round(late.p99_s * 1e3, 4),
        "max": round(late.max_s * 1e3, 4),
    }


def _write_trace(path: Path, rows: list[dict[str, Any]]) -> None:
    fields = [
        "sim_s",
        "exchange",
        "id",
        "service",
        "caller",
        "host",
        "leg",
        "sent_at_s",
        "modelled_s",
        "path",
        "what",
        "reason",
    ]
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=fields, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)


@click.command("serve")
@click.argument("service")
@click.option(
    "--endpoints",
    "endpoints_file",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The emulator's endpoints.json.",
)
@click.option("--site", help="Where to serve (default: the service's primary host).")
def serve(service: str, endpoints_file: Path, site: str | None) -> None:
    """Run the reference implementation of SERVICE (directory, eltax) as a real program."""
    from lgwan_sim.backbone import reference_service

    program = reference_service(service)
    data = (
        json.loads(endpoints_file.read_text(encoding="utf-8")) if endpoints_file.is_file() else None
    )
    if data is None:
        raise InputError("no such file", field="--endpoints", value=str(endpoints_file))
    svc = program.make(endpoints_file, site)

    def stop(signum: int, frame: Any) -> None:
        svc.stop()

    for s in (signal.SIGINT, signal.SIGTERM):
        signal.signal(s, stop)
    click.echo(f"lgwan-sim: {service} at {svc.site}: registering", err=True)
    try:
        svc.serve()
    finally:
        svc.close()
    click.echo(f"lgwan-sim: {service} at {svc.site}: served {svc.served}", err=True)


@click.group("fault")
def fault() -> None:
    """Faults on a running emulator, through its control API (docs/faults.md)."""


def _control(endpoints_file: Path) -> Any:
    from lgwan_sim.backbone import Control

    if not endpoints_file.is_file():
        raise InputError("no such file", field="--endpoints", value=str(endpoints_file))
    return Control(endpoints_file)


_ENDPOINTS = click.option(
    "--endpoints",
    "endpoints_file",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The emulator's endpoints.json.",
)


@fault.command("add")
@click.argument("name")
@click.argument("spec")
@_ENDPOINTS
def fault_add(name: str, spec: str, endpoints_file: Path) -> None:
    """Add (or replace) fault NAME; SPEC is its JSON, e.g. '{"kind": "link_down", "links": ["m1~core"], "duration_s": 30}'."""
    try:
        body = json.loads(spec)
    except ValueError as exc:
        raise InputError(f"not JSON ({exc})", field="SPEC", value=spec) from None
    from lgwan_sim.backbone import ControlError

    try:
        made = _control(endpoints_file).put(name, **body) if isinstance(body, dict) else None
    except ControlError as exc:
        raise InputError(str(exc), field="SPEC", value=spec) from None
    if made is None:
        raise InputError("a fault is a JSON object", field="SPEC", value=spec)
    click.echo(json.dumps(made, ensure_ascii=False))


@fault.command("list")
@_ENDPOINTS
def fault_list(endpoints_file: Path) -> None:
    """The faults in force, with their hits."""
    for f in _control(endpoints_file).faults():
        click.echo(json.dumps(f, ensure_ascii=False))


@fault.command("rm")
@click.argument("name")
@_ENDPOINTS
def fault_rm(name: str, endpoints_file: Path) -> None:
    """Remove fault NAME (a network fault's restoration is applied now)."""
    from lgwan_sim.backbone import ControlError

    try:
        _control(endpoints_file).delete(name)
    except ControlError as exc:
        raise InputError(str(exc), field="NAME", value=name) from None


@fault.command("reset")
@_ENDPOINTS
def fault_reset(endpoints_file: Path) -> None:
    """Remove every fault."""
    _control(endpoints_file).reset()


commands: list[click.Command] = [emulate, serve, fault]
