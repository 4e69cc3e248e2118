"""Load the hierarchy, profiles and migration plan from the ``pki/`` YAML files.

Every mistake raises :class:`~lgwan_sim.errors.InputError` naming the file, line, field and
value, so a bad file is reported in one line.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.x509.oid import ObjectIdentifier

from lgwan_sim._resources import bundled_dir
from lgwan_sim._yaml import Reader, load_yaml
from lgwan_sim.errors import InputError, PkiError
from lgwan_sim.lgpki._migration_plan import MigrationPlan
from lgwan_sim.lgpki._model import (
    STANDARD_EKUS,
    CaRole,
    CaSpec,
    CrossDomainConstraints,
    GenerationSpec,
    HashName,
    Hierarchy,
    KeyType,
    Profile,
    RevocationTiming,
)

__all__ = ["default_pki_dir", "load_hierarchy", "load_migration_plan"]

_KEY_USAGES = frozenset(
    {
        "digital_signature",
        "content_commitment",
        "key_encipherment",
        "data_encipherment",
        "key_agreement",
    }
)

#: Longest validity a CA or profile may ask for: 100 years, well inside X.509's dates.
_MAX_VALIDITY_DAYS = 36_500
#: Migration dates: certificates cannot start before 1950; the latest leaves room for a CA
#: of the longest validity and the year of follow-up the migration simulates.
_EARLIEST = datetime(1950, 1, 1, tzinfo=UTC)
_LATEST = datetime(9799, 12, 31, tzinfo=UTC)
#: Longest CA name: X.509 limits a common name to 64 characters.
_MAX_NAME_CHARS = 64


def default_pki_dir() -> Path:
    """The bundled ``pki/`` folder."""
    return bundled_dir("pki")


class _Reader(Reader):
    """The PKI files' dialect: the field named is the key itself; a missing key says so."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, error=InputError)

    def fail(self, message: str, container: object, key: str | int, value: object) -> InputError:
        return self.error(message, container, key, str(key), value)

    def section(self, container: Any, key: str, *, required: bool = True) -> Mapping[str, Any]:
        if not isinstance(container, Mapping):
            raise self.error("expected a mapping", None, None, None, container)
        if key not in container:
            if not required:
                return {}
            raise self.error("missing key", None, None, key, None)
        return self.mapping(container, key, key)

    def string(self, container: Mapping[str, Any], key: str, default: str | None = None) -> str:
        if key not in container:
            if default is not None:
                return default
            raise self.error("missing key", container, key, key, None)
        return self.text(container, key, key)

    def positive(self, container: Mapping[str, Any], key: str, *, maximum: float) -> float:
        """A finite number > 0 and at most ``maximum``."""
        return self.number(
            container, key, key, minimum=0.0, exclusive_minimum=True, maximum=maximum
        )

    def days(self, container: Mapping[str, Any], key: str) -> int:
        """A positive, finite number of days that a certificate's dates can hold."""
        value = container.get(key)
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
            or value <= 0
        ):
            raise self.fail("must be a positive number", container, key, value)
        if value > _MAX_VALIDITY_DAYS:
            raise self.fail(f"must be at most {_MAX_VALIDITY_DAYS} days", container, key, value)
        return int(value)

    def strings(self, container: Mapping[str, Any], key: str) -> tuple[str, ...]:
        value = container.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail("must be a list of strings", container, key, value)
        return tuple(value)

    def oid(self, arc: str, container: Mapping[str, Any], key: str) -> ObjectIdentifier:
        value = container.get(key)
        if not isinstance(value, str):
            raise self.fail("must be a relative OID string such as '1.1'", container, key, value)
        try:
            return ObjectIdentifier(f"{arc}.{value}")
        except ValueError:
            raise self.fail("not a valid OID", container, key, value) from None

    def enum(self, enum: type[Any], container: Mapping[str, Any], key: str) -> Any:
        value = container.get(key)
        try:
            return enum(value)
        except ValueError:
            allowed = ", ".join(e.value for e in enum)
            raise self.fail(f"must be one of {allowed}", container, key, value) from None

    def only(self, mapping: object, allowed: Collection[str], field: str) -> None:
        """Keys outside ``allowed``; ``field`` names the section (``"CA gpki-root"``)."""
        if not isinstance(mapping, Mapping):
            raise self.wrong_type("a mapping", None, None, field, mapping)
        for key in mapping:
            if key not in allowed:
                raise self.fail(
                    f"unknown key in {field}; allowed: {', '.join(sorted(allowed))}",
                    mapping,
                    key,
                    key,
                )


def load_hierarchy(pki_dir: Path | None = None) -> Hierarchy:
    """Read ``hierarchy.yaml`` and ``profiles.yaml`` from ``pki_dir`` (default: bundled)."""
    folder = default_pki_dir() if pki_dir is None else Path(pki_dir)
    h_path = folder / "hierarchy.yaml"
    p_path = folder / "profiles.yaml"
    hdoc = load_yaml(h_path, error=InputError)
    pdoc = load_yaml(p_path, error=InputError)
    r = _Reader(h_path)
    if not isinstance(hdoc, Mapping):
        raise InputError("expected a mapping at the top", file=h_path, value=type(hdoc).__name__)
    r.only(
        hdoc,
        {
            "oid_arc",
            "policies",
            "generations",
            "cas",
            "repository_url",
            "revocation",
            "cross_domain",
        },
        "hierarchy",
    )
    arc = r.string(hdoc, "oid_arc")
    try:
        ObjectIdentifier(arc)
    except ValueError:
        raise r.fail("not a valid OID", hdoc, "oid_arc", arc) from None
    pol = r.section(hdoc, "policies")
    policies = {name: r.oid(arc, pol, name) for name in pol}
    gens: dict[str, GenerationSpec] = {}
    gmap = r.section(hdoc, "generations")
    for name in gmap:
        g = r.section(gmap, name)
        r.only(g, {"ca_key", "hash", "ca_validity_days"}, f"generation {name}")
        try:
            gens[name] = GenerationSpec(
                name=name,
                ca_key=r.enum(KeyType, g, "ca_key"),
                hash=r.enum(HashName, g, "hash"),
                ca_validity_days=r.days(g, "ca_validity_days"),
            )
        except PkiError as exc:
            raise r.fail(str(exc), gmap, name, name) from None
    cas: dict[str, CaSpec] = {}
    cmap = r.section(hdoc, "cas")
    for ca_id in cmap:
        c = r.section(cmap, ca_id)
        r.only(
            c,
            {
                "name",
                "organisation",
                "role",
                "generation",
                "issuer",
                "domain",
                "cross_with",
                "link_from",
            },
            f"CA {ca_id}",
        )
        gen = r.string(c, "generation")
        if gen not in gens:
            raise r.fail("unknown generation", c, "generation", gen)
        domain = r.string(c, "domain")
        if domain not in policies:
            raise r.fail("unknown policy domain", c, "domain", domain)
        link_from = c.get("link_from")
        if link_from is not None and not isinstance(link_from, str):
            raise r.fail("must be a CA id", c, "link_from", link_from)
        ca_name = r.string(c, "name")
        if len(ca_name) > _MAX_NAME_CHARS:
            raise r.fail(
                f"must be at most {_MAX_NAME_CHARS} characters (a certificate's common name)",
                c,
                "name",
                ca_name,
            )
        cas[ca_id] = CaSpec(
            id=ca_id,
            name=ca_name,
            organisation=r.string(c, "organisation", "LGPKI"),
            role=r.enum(CaRole, c, "role"),
            generation=gen,
            issuer=r.string(c, "issuer"),
            domain=domain,
            cross_with=r.strings(c, "cross_with"),
            link_from=link_from,
        )
    for ca in cas.values():
        c = cmap[ca.id]
        for ref, key in [(ca.issuer, "issuer"), *[(x, "cross_with") for x in ca.cross_with]]:
            if ref != "self" and ref not in cas:
                raise r.fail("names a CA that does not exist", c, key, ref)
        if ca.link_from is not None and ca.link_from not in cas:
            raise r.fail("names a CA that does not exist", c, "link_from", ca.link_from)
        if not ca.self_signed and cas[ca.issuer].generation != ca.generation:
            raise r.fail(
                "a subordinate CA must share its issuer's generation", c, "issuer", ca.issuer
            )
    rev = r.section(hdoc, "revocation")
    hour_keys = (
        "next_update_hours",
        "publish_every_hours",
        "delta_next_update_hours",
        "delta_every_hours",
    )
    r.only(rev, hour_keys, "revocation")
    hours = {key: r.positive(rev, key, maximum=_MAX_VALIDITY_DAYS * 24) for key in hour_keys}
    try:
        timing = RevocationTiming(**hours)
    except PkiError as exc:
        raise r.fail(str(exc), hdoc, "revocation", None) from None

    pr = _Reader(p_path)
    if not isinstance(pdoc, Mapping):
        raise InputError("expected a mapping at the top", file=p_path, value=type(pdoc).__name__)
    pr.only(pdoc, {"roles", "message_signing_oid", "profiles", "bulk", "titles"}, "profiles file")
    rmap = pr.section(pdoc, "roles")
    role_oids = {name: pr.oid(arc, rmap, name) for name in rmap}
    msg_oid = pr.oid(arc, pdoc, "message_signing_oid")
    profiles: dict[str, Profile] = {}
    pmap = pr.section(pdoc, "profiles")
    for name in pmap:
        p = pr.section(pmap, name)
        pr.only(
            p,
            {
                "issuer",
                "key",
                "validity_days",
                "key_usage",
                "extended_key_usage",
                "subject_cn",
                "dns_names",
                "emails",
            },
            f"profile {name}",
        )
        kmap = pr.section(p, "key")
        keys: dict[str, KeyType] = {}
        for gen in kmap:
            if gen not in gens:
                raise pr.fail("unknown generation", kmap, gen, gen)
            keys[gen] = pr.enum(KeyType, kmap, gen)
        usages = pr.strings(p, "key_usage")
        for u in usages:
            if u not in _KEY_USAGES:
                raise pr.fail(
                    f"unknown key usage; allowed: {sorted(_KEY_USAGES)}", p, "key_usage", u
                )
        ekus: list[ObjectIdentifier] = []
        roles: list[str] = []
        for e in pr.strings(p, "extended_key_usage"):
            if e == "message_signing":
                ekus.append(msg_oid)
            elif e.startswith("role:") and e[5:] in role_oids:
                ekus.append(role_oids[e[5:]])
                roles.append(e[5:])
            elif e in STANDARD_EKUS:
                ekus.append(STANDARD_EKUS[e])
            else:
                raise pr.fail("unknown extended key usage", p, "extended_key_usage", e)
        profiles[name] = Profile(
            name=name,
            issuer_role=pr.enum(CaRole, p, "issuer"),
            keys=keys,
            validity_days=pr.days(p, "validity_days"),
            key_usage=usages,
            extended_key_usage=tuple(ekus),
            roles=tuple(roles),
            subject_cn=pr.string(p, "subject_cn"),
            dns_names=pr.strings(p, "dns_names"),
            emails=pr.strings(p, "emails"),
        )
    bmap = pr.section(pdoc, "bulk")
    bulk: dict[str, str] = {}
    for kind in bmap:
        value = bmap[kind]
        if not isinstance(value, str) or value not in profiles:
            raise pr.fail("unknown profile", bmap, kind, value)
        bulk[kind] = value
    tmap = pr.section(pdoc, "titles", required=False)
    titles = {k: str(v) for k, v in tmap.items()}
    return Hierarchy(
        oid_arc=arc,
        policies=policies,
        generations=gens,
        cas=cas,
        profiles=profiles,
        role_oids=role_oids,
        message_signing_oid=msg_oid,
        bulk=bulk,
        titles=titles,
        repository_url=r.string(hdoc, "repository_url").rstrip("/"),
        revocation=timing,
        source=str(folder),
        cross_domain=_cross_domain(r, hdoc, policies),
    )


_NAME_FORMS = {
    "directory": lambda v: x509.DirectoryName(x509.Name.from_rfc4514_string(v)),
    "dns": x509.DNSName,
    "email": x509.RFC822Name,
    "uri": x509.UniformResourceIdentifier,
}


def _subtrees(r: _Reader, section: Mapping[str, Any], key: str) -> tuple[x509.GeneralName, ...]:
    forms = r.section(section, key, required=False)
    r.only(forms, set(_NAME_FORMS), key)
    out: list[x509.GeneralName] = []
    for form in forms:
        for value in r.strings(forms, form):
            try:
                out.append(_NAME_FORMS[form](value))
            except ValueError as exc:
                raise r.fail(f"not a {form} name ({exc})", forms, form, value) from None
    return tuple(out)


def _skip_certs(r: _Reader, section: Mapping[str, Any], key: str) -> int | None:
    value = section.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 16:
        raise r.fail("must be a whole number of certificates from 0 to 16", section, key, value)
    return value


def _cross_domain(
    r: _Reader, hdoc: Mapping[str, Any], policies: Mapping[str, ObjectIdentifier]
) -> dict[str, CrossDomainConstraints]:
    out: dict[str, CrossDomainConstraints] = {}
    cmap = r.section(hdoc, "cross_domain", required=False)
    for domain in cmap:
        if domain not in policies:
            raise r.fail("unknown policy domain", cmap, domain, domain)
        c = r.section(cmap, domain)
        r.only(
            c,
            {
                "require_explicit_policy",
                "inhibit_policy_mapping",
                "inhibit_any_policy",
                "permitted",
                "excluded",
            },
            f"cross_domain {domain}",
        )
        out[domain] = CrossDomainConstraints(
            require_explicit_policy=_skip_certs(r, c, "require_explicit_policy"),
            inhibit_policy_mapping=_skip_certs(r, c, "inhibit_policy_mapping"),
            inhibit_any_policy=_skip_certs(r, c, "inhibit_any_policy"),
            permitted=_subtrees(r, c, "permitted"),
            excluded=_subtrees(r, c, "excluded"),
        )
    return out


def _as_utc(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    return None


def load_migration_plan(path: Path | None = None) -> MigrationPlan:
    """Read ``migration.yaml`` (default: the bundled one) into a :class:`MigrationPlan`."""
    path = default_pki_dir() / "migration.yaml" if path is None else Path(path)
    doc = load_yaml(path, error=InputError)
    r = _Reader(path)
    if not isinstance(doc, Mapping):
        raise InputError("expected a mapping at the top", file=path, value=type(doc).__name__)
    fields = (
        "g1_start",
        "g2_start",
        "g1_issuance_stop",
        "g1_acceptance_stop",
        "algorithm_compromise",
    )
    r.only(doc, {*fields, "laggard_ratio", "seed"}, "migration plan")
    dates: dict[str, datetime | None] = {}
    for name in fields:
        if name not in doc:
            if name == "algorithm_compromise":
                dates[name] = None
                continue
            raise InputError("missing key", file=path, field=name)
        when = _as_utc(doc[name])
        if when is None:
            raise r.fail("must be a date (YYYY-MM-DD)", doc, name, doc[name])
        if not _EARLIEST <= when <= _LATEST:
            raise r.fail(
                f"must be between {_EARLIEST.date()} and {_LATEST.date()} "
                "(dates that the certificates of the migration can hold)",
                doc,
                name,
                doc[name],
            )
        dates[name] = when
    ratio = (
        r.number(doc, "laggard_ratio", "laggard_ratio", minimum=0.0, maximum=1.0)
        if "laggard_ratio" in doc
        else 0.0
    )
    seed = r.integer(doc, "seed", "seed") if "seed" in doc else 0
    g1_start, g2_start = dates["g1_start"], dates["g2_start"]
    stop, accept = dates["g1_issuance_stop"], dates["g1_acceptance_stop"]
    assert g1_start
    assert g2_start
    assert stop
    assert accept
    try:
        return MigrationPlan(
            g1_start=g1_start,
            g2_start=g2_start,
            g1_issuance_stop=stop,
            g1_acceptance_stop=accept,
            algorithm_compromise=dates["algorithm_compromise"],
            laggard_ratio=float(ratio),
            seed=seed,
        )
    except PkiError as exc:
        raise InputError(str(exc), file=path) from None
