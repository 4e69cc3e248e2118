"""``lgwan-sim pki ...``: the simulated LGPKI from the command line.

``init``, ``issue``, ``revoke``, ``renew``, ``crl``, ``verify``, ``sign``, ``export``,
``status``, ``audit``, ``republish`` and ``migrate`` work on a CA home chosen with ``--home`` (before or
after the subcommand). The passphrase that protects the private keys is read from
``--passphrase-file`` (default ``<home>/passphrase``, which ``init`` creates with a random
value: convenient for a simulation; keep it elsewhere for anything else). ``--at`` is an
ISO date or date-time, JST unless it carries an offset (the rule of scenario times); the
default is the current time. Times are printed in UTC.
"""

from __future__ import annotations

import contextlib
import json
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import NoReturn

import click
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from lgwan_sim._cli._common import (
    echo_json,
    out_option,
    plural,
    topology_from_options,
    topology_options,
)
from lgwan_sim._files import atomic_write
from lgwan_sim._time import parse_moment
from lgwan_sim.errors import InputError, PkiError, UnknownSiteError, VerificationError
from lgwan_sim.lgpki import (
    REVOCATION_REASONS,
    CertKind,
    IssuedCertificate,
    KeyType,
    MessageSigner,
    MessageVerifier,
    Pki,
    SignedMessage,
    SiteLike,
    load_migration_plan,
    run_migration,
    verifier_from_store,
)

__all__ = ["commands", "pki"]


@dataclass(frozen=True, slots=True, kw_only=True)
class _Ctx:
    home: Path
    passphrase_file: Path

    def passphrase(self) -> bytes:
        try:
            text = self.passphrase_file.read_bytes().strip()
        except FileNotFoundError:
            raise InputError("passphrase file not found", file=self.passphrase_file) from None
        if not text:
            raise InputError("passphrase file is empty", file=self.passphrase_file)
        return text

    def open(self) -> Pki:
        """Open the store; a folder without one is named before any passphrase is read."""
        if not (self.home / "pki.sqlite3").is_file():
            what = "no CA store in this folder" if self.home.exists() else "no such folder"
            raise PkiError(
                f"{self.home}: {what}; to make a CA store there, run"
                f" 'lgwan-sim pki --home {self.home} init' first"
            )
        ca = Pki.open(self.home, passphrase=self.passphrase())
        if ca.recovery is not None:  # before the command's own work, in one line
            click.echo(f"lgwan-sim: {ca.recovery.describe()}", err=True)
        return ca


def _at(value: str | None) -> datetime:
    """Parse ``--at`` as scenario times are read (without an offset: JST); default: now."""
    if value is None:
        return datetime.now(UTC)
    when = parse_moment(value)
    if when is None:
        raise InputError(
            "not an ISO date or date-time (JST unless an offset such as Z is given)",
            field="--at",
            value=value,
        )
    return when.astimezone(UTC)


@contextlib.contextmanager
def _new_home(obj: _Ctx) -> Iterator[None]:
    """Make a random passphrase file if there is none; if no store comes of the block, take
    back what was written (the file, and the home folder if it was made here and is empty)."""
    made_home = not obj.home.exists()
    made_file = not obj.passphrase_file.exists()
    if made_file:
        obj.home.mkdir(parents=True, exist_ok=True)
        atomic_write(obj.passphrase_file, secrets.token_urlsafe(32).encode() + b"\n", mode=0o600)
    try:
        yield
    except BaseException:
        if not (obj.home / "pki.sqlite3").exists():
            if made_file:
                obj.passphrase_file.unlink(missing_ok=True)
            if made_home:
                with contextlib.suppress(OSError):
                    obj.home.rmdir()  # only if empty
        raise


_AT = click.option(
    "--at",
    "at",
    metavar="ISO-DATE",
    help="Simulated time: ISO date or date-time, JST unless an offset such as Z is given; "
    "default now.",
)


_HOME_HELP = "The CA home folder (store, keys, published repository)."
_PASS_HELP = "File holding the key passphrase (default: <home>/passphrase)."


@dataclass(frozen=True, slots=True)
class _GroupOptions:
    """``--home`` and ``--passphrase-file`` as given before the subcommand (or from the
    environment); a subcommand may give them again after its name."""

    home: Path | None
    passphrase_file: Path | None


@click.group("pki")
@click.option(
    "--home",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="LGWAN_SIM_PKI_HOME",
    help=_HOME_HELP + " Also accepted after the subcommand.",
)
@click.option(
    "--passphrase-file",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="LGWAN_SIM_PKI_PASSPHRASE_FILE",
    help=_PASS_HELP,
)
@click.pass_context
def pki(ctx: click.Context, home: Path | None, passphrase_file: Path | None) -> None:
    """The simulated LGPKI: CAs, certificates, CRLs, verification, migration.

    Every subcommand needs --home DIR (before or after the subcommand's name, or
    LGWAN_SIM_PKI_HOME).
    """
    ctx.obj = _GroupOptions(home=home, passphrase_file=passphrase_file)


def _with_home(command: Callable[..., None]) -> Callable[..., None]:
    """Let a subcommand take ``--home``/``--passphrase-file`` after its name too, and hand
    it the resolved :class:`_Ctx` as its first argument (a missing ``--home`` is reported
    when the subcommand runs, so ``--help`` works without one)."""

    def wrapper(
        ctx: click.Context,
        /,
        *args: object,
        sub_home: Path | None,
        sub_passphrase_file: Path | None,
        **kwargs: object,
    ) -> None:
        given = ctx.find_object(_GroupOptions) or _GroupOptions(None, None)
        home = sub_home or given.home
        if home is None:
            raise click.UsageError(
                "Missing option '--home' (the CA home folder): give it before or after"
                f" {ctx.info_name!r}, or set LGWAN_SIM_PKI_HOME",
                ctx=ctx,
            )
        passphrase_file = sub_passphrase_file or given.passphrase_file or home / "passphrase"
        command(_Ctx(home=home, passphrase_file=passphrase_file), *args, **kwargs)

    wrapper.__doc__ = command.__doc__  # the subcommand's help
    wrapper.__name__ = command.__name__
    home_option = click.option(
        "--home",
        "sub_home",
        type=click.Path(file_okay=False, path_type=Path),
        help=_HOME_HELP + " May also come before the subcommand.",
    )
    passphrase_option = click.option(
        "--passphrase-file",
        "sub_passphrase_file",
        type=click.Path(dir_okay=False, path_type=Path),
        help=_PASS_HELP,
    )
    return home_option(passphrase_option(click.pass_context(wrapper)))


@pki.command("init")
@_AT
@click.option(
    "--generation",
    "generations",
    multiple=True,
    help="Generations to stand up (repeatable; default all: G1, G2 and GPKI).",
)
@click.option(
    "--pki-dir",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="Folder with hierarchy.yaml, profiles.yaml, migration.yaml (default: bundled).",
)
@_with_home
def init_cmd(obj: _Ctx, at: str | None, generations: tuple[str, ...], pki_dir: Path | None) -> None:
    """Create the CA home and the hierarchy."""
    now = _at(at)
    if (obj.home / "pki.sqlite3").exists():
        raise PkiError(f"{obj.home} already holds a CA store")
    with (
        _new_home(obj),
        Pki.create(
            obj.home,
            passphrase=obj.passphrase(),
            now=now,
            generations=list(generations) or None,
            pki_dir=pki_dir,
        ) as ca,
    ):
        ids = ca.ca_ids()
    click.echo(f"initialised {obj.home}: {plural(len(ids), 'CA')} ({', '.join(ids)})")


def _sites_from_topology(
    topology_file: Path | None, roster: Path | None, backup_lines: bool
) -> list[SiteLike]:
    topo = topology_from_options(topology_file, roster, backup_lines)
    return [topo.sites[k] for k in sorted(topo.sites)]


def _write_out(out: Path, issued: IssuedCertificate, ca: Pki) -> list[Path]:
    """Write the certificate (and the key the CA made for it) under ``out``; the paths."""
    base = out / f"{issued.holder}-{issued.profile}-{issued.generation}"
    cert_pem = issued.certificate.public_bytes(serialization.Encoding.PEM)
    atomic_write(base.with_suffix(".crt"), cert_pem)
    if issued.key_ref is None:
        return [base.with_suffix(".crt")]
    key_pem = ca.private_key(issued).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    atomic_write(base.with_suffix(".key"), key_pem, mode=0o600)
    return [base.with_suffix(".crt"), base.with_suffix(".key")]


@pki.command("issue")
@_AT
@click.option("--all", "all_sites", is_flag=True, help="Every eligible site of the topology.")
@click.option("--site", "site_id", help="One site id of the topology.")
@click.option("--profile", help="Profile for --site / --csr (role, user, server, mail, ...).")
@click.option(
    "--csr",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Issue for this PEM CSR.",
)
@click.option("--generation", help="G1 or G2 (default: the current issuing generation).")
@click.option(
    "--key-type",
    type=click.Choice([k.value for k in KeyType]),
    help="Override the profile's end-entity key type.",
)
@out_option(
    type=click.Path(file_okay=False, path_type=Path),
    help="Write certificate (and key) PEM files into this folder.",
    required=False,
)
@topology_options
@_with_home
def issue_cmd(
    obj: _Ctx,
    at: str | None,
    all_sites: bool,
    site_id: str | None,
    profile: str | None,
    csr: Path | None,
    generation: str | None,
    key_type: str | None,
    out: Path | None,
    topology_file: Path | None,
    roster: Path | None,
    backup_lines: bool,
) -> None:
    """Issue certificates: --all, or --site ID --profile P [--csr FILE]."""
    now = _at(at)
    kt = None if key_type is None else KeyType(key_type)
    if all_sites == (site_id is not None):
        raise click.UsageError("give either --all or --site")
    if site_id is not None and profile is None:
        raise click.UsageError("--site needs --profile")
    if all_sites and profile is not None:
        raise click.UsageError(
            "--profile applies to --site; --all gives each kind of site its bulk profile"
            " (profiles.yaml: bulk)"
        )
    if csr is not None and key_type is not None:
        raise click.UsageError("--key-type does not apply to --csr: the CSR carries the key")
    request = None
    if csr is not None:
        if site_id is None:
            raise click.UsageError("--csr needs --site and --profile")
        try:
            request = x509.load_pem_x509_csr(csr.read_bytes())
        except ValueError:
            raise InputError(
                "not a PEM certificate signing request", file=csr, field="--csr"
            ) from None
    sites = _sites_from_topology(topology_file, roster, backup_lines)
    with obj.open() as ca:
        if all_sites:
            issued = ca.issue_for_sites(sites, now=now, generation=generation, key_type=kt)
        else:
            assert site_id is not None
            assert profile is not None
            match = [s for s in sites if s.id == site_id]
            if not match:
                raise UnknownSiteError(site_id, hint="not in the topology")
            if request is not None:
                one = ca.issue_from_csr(
                    request, site=match[0], profile=profile, now=now, generation=generation
                )
            else:
                one = ca.issue(
                    match[0], profile=profile, now=now, generation=generation, key_type=kt
                )
            issued = [one]
        written: list[Path] = []
        if out is not None:
            for cert in issued:
                written += _write_out(out, cert, ca)
        published = sorted({ca.published_path(c) for c in issued})
    by_gen: dict[str, int] = {}
    for cert in issued:
        by_gen[cert.generation] = by_gen.get(cert.generation, 0) + 1
    summary = ", ".join(f"{n} {g}" for g, n in sorted(by_gen.items()))
    if not issued:
        click.echo("issued 0 certificates: every eligible site holds a valid one of its profile")
        return
    click.echo(f"issued {plural(len(issued), 'certificate')} ({summary})")
    if len(issued) == 1:
        one = issued[0]
        click.echo(f"  {one.holder} {one.profile} {one.issuer_ca} serial {one.serial:x}")
    if out is not None and len(written) > 2:
        click.echo(f"  wrote {plural(len(written), 'file')} to {out}")
    elif written:
        click.echo(f"  wrote {' '.join(str(p) for p in written)}")
    elif len(published) == 1:
        click.echo(f"  published in {published[0]} (-o DIR, or pki export, for a file of its own)")
    else:
        click.echo(
            f"  published in {plural(len(published), 'file')} under {obj.home / 'repo' / 'issued'}"
        )


@pki.command("revoke")
@_AT
@click.option("--holder", help="Revoke every valid end-entity certificate of this site.")
@click.option("--issuer", "issuer_ca", help="Issuing CA id (with --serial).")
@click.option("--serial", help="Serial number in hex (with --issuer).")
@click.option(
    "--cert",
    "cert_file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="The PEM certificate to revoke (instead of --issuer and --serial).",
)
@click.option(
    "--reason",
    type=click.Choice(sorted(REVOCATION_REASONS)),
    required=True,
    help="RFC 5280 reason; key_compromise also blocks the key.",
)
@click.option(
    "--publish/--no-publish",
    default=True,
    show_default=True,
    help="Publish fresh CRLs and ARLs of the issuers concerned after revoking.",
)
@_with_home
def revoke_cmd(
    obj: _Ctx,
    at: str | None,
    holder: str | None,
    issuer_ca: str | None,
    serial: str | None,
    cert_file: Path | None,
    reason: str,
    publish: bool,
) -> None:
    """Revoke certificates with a reason: --holder, --cert, or --issuer with --serial."""
    now = _at(at)
    ways = [holder is not None, cert_file is not None, serial is not None or issuer_ca is not None]
    if sum(ways) != 1:
        raise click.UsageError("give one of --holder, --cert, or --issuer with --serial")
    given_cert = None
    if cert_file is not None:
        try:
            given_cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
        except ValueError:
            raise InputError("not a readable PEM certificate", file=cert_file) from None
    with obj.open() as ca:
        if publish:
            ca.check_publication_time(now)
        if holder is not None:
            revoked = ca.revoke_holder(holder, reason=reason, now=now)
        elif given_cert is not None:
            issued = ca.find_certificate(given_cert)
            if issued is None:
                raise InputError("not a certificate of this CA home", file=cert_file)
            revoked = ca.revoke(issued.issuer_ca, issued.serial, reason=reason, now=now)
        else:
            if issuer_ca is None:
                raise click.UsageError("--serial needs --issuer")
            try:
                number = int(serial or "", 16)
            except ValueError:
                raise InputError(
                    "not a hexadecimal serial", field="--serial", value=serial
                ) from None
            revoked = ca.revoke(issuer_ca, number, reason=reason, now=now)
        if publish:
            ca.publish_crls(now=now, ca_ids=sorted({c.issuer_ca for c in revoked}))
    for cert in revoked:
        click.echo(f"revoked {cert.issuer_ca}/{cert.serial:x} ({cert.holder}, {reason})")


@pki.command("renew")
@_AT
@click.option("--holder", required=True, help="The site whose certificates to renew.")
@click.option("--generation", help="Target generation (default: the current one).")
@click.option(
    "--key-type",
    type=click.Choice([k.value for k in KeyType]),
    help="Override the profiles' end-entity key type.",
)
@click.option("--keep-old", is_flag=True, help="Do not revoke the old certificates (superseded).")
@_with_home
def renew_cmd(
    obj: _Ctx,
    at: str | None,
    holder: str,
    generation: str | None,
    key_type: str | None,
    keep_old: bool,
) -> None:
    """Re-key and re-issue every valid certificate of a site."""
    now = _at(at)
    with obj.open() as ca:
        new = ca.renew(
            holder,
            now=now,
            generation=generation,
            supersede=not keep_old,
            key_type=None if key_type is None else KeyType(key_type),
        )
        if not keep_old:
            ca.publish_crls(now=now, ca_ids=sorted({c.issuer_ca for c in new}))
    for cert in new:
        click.echo(f"renewed {holder} {cert.profile} -> {cert.issuer_ca}/{cert.serial:x}")


@pki.command("crl")
@_AT
@click.option("--ca", "ca_ids", multiple=True, help="Only these CAs (repeatable).")
@click.option("--delta", is_flag=True, help="Publish delta CRLs instead of base CRLs and ARLs.")
@click.option("--schedule", is_flag=True, help="Publish only what is due at --at.")
@_with_home
def crl_cmd(
    obj: _Ctx, at: str | None, ca_ids: tuple[str, ...], delta: bool, schedule: bool
) -> None:
    """Produce and publish CRLs, ARLs and delta CRLs."""
    now = _at(at)
    with obj.open() as ca:
        if schedule:
            made = ca.run_schedule(now=now)
        else:
            made = ca.publish_crls(now=now, ca_ids=list(ca_ids) or None, delta=delta)
        for info in made:
            click.echo(
                f"{info.ca:12} {info.scope:5} #{info.number:<5} {info.entries:6}"
                f" {'entry' if info.entries == 1 else 'entries'}"
                f"  next update {info.next_update:%Y-%m-%dT%H:%M:%SZ}"
            )
    if not made:
        click.echo("nothing due")


@pki.command("verify")
@_AT
@click.argument("file", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--anchor", default="bridge_g2", show_default=True, help="CA id to pin.")
@click.option("--role", help="Require this role (head, manager, operator) for a message.")
@click.option("--json", "as_json", is_flag=True, help="Print the verdict as JSON.")
@_with_home
def verify_cmd(
    obj: _Ctx, at: str | None, file: Path, anchor: str, role: str | None, as_json: bool
) -> None:
    """Verify a PEM certificate or a signed message against the published repository.

    The repository's lists are judged by the store's CRL history: a forged, unreadable or
    rolled-back list is refused with a warning and verification goes on with the valid
    lists, those current at --at. Exit code 0 and "OK: ..." if it is accepted; 1 and
    "REJECTED: <reason>: ..." on stderr if it is rejected (revoked, expired, stale CRL, bad
    signature, ...); 2 for bad input. With --json the verdict is printed as JSON on stdout
    either way.
    """
    now = _at(at)
    data = file.read_bytes()
    with obj.open() as ca:
        role_oid = None
        if role is not None:
            if role not in ca.hierarchy.role_oids:
                raise InputError("unknown role", field="--role", value=role)
            role_oid = ca.hierarchy.role_oids[role].dotted_string
        msg_oid = ca.hierarchy.message_signing_oid.dotted_string
        verifier, refused = verifier_from_store(ca, anchor, at=now)
    for problem in refused:
        click.echo(f"lgwan-sim: warning: {problem}", err=True)
    if data.lstrip().startswith(b"-----BEGIN CERTIFICATE"):
        try:
            cert = x509.load_pem_x509_certificate(data)
        except ValueError:
            raise InputError("not a readable PEM certificate", file=file) from None
        try:
            path = verifier.verify_certificate(cert, now=now)
        except VerificationError as exc:
            _rejected(exc, as_json=as_json, kind="certificate", now=now)
        if as_json:
            echo_json(
                {
                    "accepted": True,
                    "kind": "certificate",
                    "at": f"{now:%Y-%m-%dT%H:%M:%SZ}",
                    "subject": cert.subject.rfc4514_string(),
                    "anchor": path.anchor_subject,
                    "path_length": path.length,
                }
            )
            return
        click.echo(
            f"OK: {cert.subject.rfc4514_string()} -> {path.anchor_subject}"
            f" ({plural(path.length, 'certificate')})"
        )
        return
    if not SignedMessage.recognise(data):
        raise InputError("neither a PEM certificate nor an lgwan-sim signed message", file=file)
    try:
        message = SignedMessage.from_bytes(data)
        result = MessageVerifier(verifier, message_signing_oid=msg_oid).verify(
            message, now=now, required_role_oid=role_oid
        )
    except VerificationError as exc:
        _rejected(exc, as_json=as_json, kind="message", now=now)
    if as_json:
        echo_json(
            {
                "accepted": True,
                "kind": "message",
                "at": f"{now:%Y-%m-%dT%H:%M:%SZ}",
                "sender": result.sender,
                "topic": result.topic,
                "algorithm": result.algorithm,
            }
        )
        return
    click.echo(f"OK: message from {result.sender} on {result.topic!r} ({result.algorithm})")


def _rejected(
    exc: VerificationError, *, as_json: bool = False, kind: str = "", now: datetime | None = None
) -> NoReturn:
    """A verification that ran and said no: its reason on one line, exit code 1 (bad input
    is exit code 2); with ``as_json`` the verdict also goes to stdout as JSON."""
    if as_json:
        echo_json(
            {
                "accepted": False,
                "kind": kind,
                "at": None if now is None else f"{now:%Y-%m-%dT%H:%M:%SZ}",
                "reason": exc.reason,
                "message": str(exc),
            }
        )
    click.echo(f"REJECTED: {exc}", err=True)
    raise click.exceptions.Exit(1)


@pki.command("sign")
@_AT
@click.option("--site", "site_id", required=True, help="The sending site.")
@click.option("--topic", required=True)
@click.option(
    "--payload",
    "payload_file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    required=True,
)
@out_option(type=click.Path(dir_okay=False, path_type=Path), help="The signed message to write.")
@_with_home
def sign_cmd(
    obj: _Ctx, at: str | None, site_id: str, topic: str, payload_file: Path, out: Path
) -> None:
    """Sign a message as SITE with its newest message-signing certificate."""
    now = _at(at)
    with obj.open() as ca:
        oid = ca.hierarchy.message_signing_oid
        usable = [
            c
            for c in ca.certificates(holder=site_id, status="V", kind=CertKind.EE)
            if c.key_ref is not None
            and c.certificate.not_valid_before_utc <= now < c.certificate.not_valid_after_utc
            and oid in c.certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        ]
        if not usable:
            raise PkiError(
                f"{site_id!r} holds no valid message-signing certificate with a key here"
                f" at {now:%Y-%m-%dT%H:%M:%SZ}" + ca.explain_holder(site_id, now=now)
            )
        chosen = usable[-1]
        signer = MessageSigner(
            sender=site_id, key=ca.private_key(chosen), certificate=chosen.certificate
        )
    message = signer.sign(topic=topic, payload=payload_file.read_bytes(), now=now)
    atomic_write(out, message.to_bytes())
    click.echo(
        f"signed {plural(len(message.payload), 'byte')} as {site_id} ({message.algorithm}) -> {out}"
    )


@pki.command("export")
@_AT
@click.option("--holder", required=True, help="The site whose certificate to export.")
@click.option("--generation", help="Only this generation (G1, G2).")
@click.option("--profile", help="Only this profile (role, server, message, ...).")
@out_option(type=click.Path(dir_okay=False, path_type=Path), help="The PEM file to write.")
@_with_home
def export_cmd(
    obj: _Ctx,
    at: str | None,
    holder: str,
    generation: str | None,
    profile: str | None,
    out: Path,
) -> None:
    """Write a holder's newest unrevoked certificate valid at --at as a PEM file."""
    now = _at(at)
    with obj.open() as ca:
        usable = [
            c
            for c in ca.certificates(holder=holder, status="V", kind=CertKind.EE)
            if (generation is None or c.generation == generation)
            and (profile is None or c.profile == profile)
            and c.certificate.not_valid_before_utc <= now < c.certificate.not_valid_after_utc
        ]
        if not usable:
            wanted = " ".join(x for x in (generation, profile) if x is not None)
            raise PkiError(
                f"{holder!r} holds no valid {wanted + ' ' if wanted else ''}certificate"
                f" at {now:%Y-%m-%dT%H:%M:%SZ}" + ca.explain_holder(holder, now=now)
            )
        chosen = usable[-1]
    atomic_write(out, chosen.certificate.public_bytes(serialization.Encoding.PEM))
    click.echo(
        f"exported {holder} {chosen.profile} {chosen.issuer_ca}/{chosen.serial:x}"
        f" (valid {chosen.certificate.not_valid_before_utc:%Y-%m-%d}"
        f" to {chosen.certificate.not_valid_after_utc:%Y-%m-%d}) -> {out}"
    )


@pki.command("status")
@_AT
@click.option("--json", "as_json", is_flag=True, help="Print the CAs and holders as JSON.")
@_with_home
def status_cmd(obj: _Ctx, at: str | None, as_json: bool) -> None:
    """The CAs, their counts and CRL state, and who holds which generation."""
    now = _at(at)
    with obj.open() as ca:
        rows = ca.status(now=now)
        holders = ca.holders_by_generation(now)
    if as_json:
        echo_json(
            {
                "at": f"{now:%Y-%m-%dT%H:%M:%SZ}",
                "cas": [
                    {
                        "ca": s.ca,
                        "generation": s.generation,
                        "role": s.role,
                        "status": s.status,
                        "issuing": not s.issuance_stopped,
                        "issued": s.issued,
                        "revoked": s.revoked,
                        "crl_number": s.last_crl_number,
                        "crl_next_update": None
                        if s.crl_next_update is None
                        else f"{s.crl_next_update:%Y-%m-%dT%H:%M:%SZ}",
                        "crl_stale": s.crl_next_update is not None and s.crl_next_update <= now,
                    }
                    for s in rows
                ],
                "holders": {gen: len(holders[gen]) for gen in sorted(holders)},
            }
        )
        return
    click.echo(
        f"{'CA':12} {'gen':4} {'role':11} {'status':11} {'issuing':7} {'issued':>7} {'revoked':>7}  CRL"
    )
    for s in rows:
        crl = "-" if s.last_crl_number is None else f"#{s.last_crl_number}"
        if s.crl_next_update is not None:
            crl += (
                " stale"
                if s.crl_next_update <= now
                else f" until {s.crl_next_update:%Y-%m-%dT%H:%MZ}"
            )
        click.echo(
            f"{s.ca:12} {s.generation:4} {s.role:11} {s.status:11}"
            f" {'no' if s.issuance_stopped else 'yes':7} {s.issued:7} {s.revoked:7}  {crl}"
        )
    for gen in sorted(holders):
        click.echo(f"holders of valid {gen} certificates: {len(holders[gen])}")


@pki.command("audit")
@click.option(
    "--export",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the audit log as JSON lines.",
)
@_with_home
def audit_cmd(obj: _Ctx, export: Path | None) -> None:
    """Check the store and its repository: audit hash chain, unique serials, a row for every
    published file and a file for every row, lists the CAs issued and not rolled back.

    Exit code 0 and "integrity OK"; 1 with one line per problem on stderr.
    """
    with obj.open() as ca:
        report = ca.check_integrity()
        if export is not None:
            lines = [
                json.dumps(
                    {
                        "seq": r.seq,
                        "ts": r.ts,
                        "actor": r.actor,
                        "action": r.action,
                        "object": r.object,
                        "detail": json.loads(r.detail),
                        "prev_hash": r.prev_hash,
                        "hash": r.hash,
                    },
                    ensure_ascii=False,
                )
                for r in ca.store.audit_records()
            ]
            atomic_write(export, ("\n".join(lines) + "\n").encode())
    click.echo(
        f"{plural(report.audit_records, 'audit record')},"
        f" {plural(report.certificates, 'certificate')},"
        f" {plural(report.published_files, 'published file')}, {report.unpublished} unpublished"
    )
    if not report.ok:
        for problem in report.problems:
            click.echo(f"PROBLEM: {problem}", err=True)
        click.echo(plural(len(report.problems), "problem"), err=True)
        raise click.exceptions.Exit(1)
    click.echo("integrity OK")


@pki.command("republish")
@_with_home
def republish_cmd(obj: _Ctx) -> None:
    """Rewrite every file of the published repository from the store."""
    with obj.open() as ca:
        written = ca.republish()
    click.echo(f"republished {written} certificates and lists under {obj.home / 'repo'}")


@pki.command("migrate")
@click.option("--step-days", default=182, show_default=True, type=click.IntRange(1, 3660))
@click.option(
    "--plan",
    "plan_file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="A migration.yaml (default: the bundled pki/migration.yaml).",
)
@click.option("--sites-limit", type=click.IntRange(1), help="Only the first N eligible sites.")
@click.option("--holders", "show_holders", is_flag=True, help="List the G1 holders at each date.")
@topology_options
@_with_home
def migrate_cmd(
    obj: _Ctx,
    step_days: int,
    plan_file: Path | None,
    sites_limit: int | None,
    show_holders: bool,
    topology_file: Path | None,
    roster: Path | None,
    backup_lines: bool,
) -> None:
    """Run the G1 -> G2 migration in a new home and report G1 holders per date."""
    plan = load_migration_plan(plan_file)  # a bad plan is reported before anything is written
    sites = _sites_from_topology(topology_file, roster, backup_lines)
    with (
        _new_home(obj),
        Pki.create(
            obj.home,
            passphrase=obj.passphrase(),
            now=plan.g1_start,
            generations=["G1"],
            migration=plan_file,
        ) as ca,
    ):
        eligible = [s for s in sites if str(s.kind) in ca.hierarchy.bulk]
        if sites_limit is not None:
            eligible = eligible[:sites_limit]
        report = run_migration(ca, eligible, step_days=step_days)
    click.echo(
        f"{'date':10} {'G1':>5} {'G2':>5} {'renewed':>7}  {'G1 verdict':12} {'old software':12} events"
    )
    for s in report.steps:
        click.echo(
            f"{s.when:%Y-%m-%d} {len(s.g1_holders):5} {s.g2_holders:5} {s.renewed:7}"
            f"  {s.g1_verdict:12} {s.g1_verdict_old_software:12} {' '.join(s.events)}"
        )
        if show_holders and s.g1_holders:
            click.echo(f"           G1: {' '.join(s.g1_holders)}")
    stranded = report.stranded
    click.echo(f"still on G1 at the acceptance stop: {len(stranded)} {' '.join(stranded[:20])}")


commands = [pki]
