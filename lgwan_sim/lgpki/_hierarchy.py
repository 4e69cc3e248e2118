"""A generation's CA certificates and the shape of the hierarchy, computed without I/O.

:func:`build_generation` makes the self-signed, subordinate, cross and link certificates
of one generation (新局立ち上げ: new CAs with new names and keys) from keys the caller
generated; :func:`generation_order` and :func:`forward_bundle` answer questions about the
hierarchy from records the caller read.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509

from lgwan_sim.errors import PkiError
from lgwan_sim.lgpki._build import Signer, build_ca_certificate, ca_name
from lgwan_sim.lgpki._crypto import PrivateKey
from lgwan_sim.lgpki._model import CaSpec, CertKind, Hierarchy

__all__ = [
    "GenerationCertificates",
    "MadeCertificate",
    "build_generation",
    "forward_bundle",
    "generation_order",
    "issuing_order",
    "partners_missing",
]


@dataclass(frozen=True, slots=True)
class MadeCertificate:
    """A CA certificate built for the store: who issued it to whom, of which kind."""

    certificate: x509.Certificate
    issuer_ca: str
    kind: CertKind
    subject_ca: str
    generation: str


@dataclass(frozen=True, slots=True, kw_only=True)
class GenerationCertificates:
    ordered: tuple[CaSpec, ...]
    """The generation's CAs, each after its issuer."""
    signers: Mapping[str, Signer]
    made: tuple[MadeCertificate, ...]


def generation_order(h: Hierarchy, wanted: Sequence[str], existing: Collection[str]) -> list[str]:
    """Generations in dependency order (a CA's cross partners and link source come first),
    leaving out those already set up."""
    for gen in wanted:
        if gen not in h.generations:
            raise PkiError(f"unknown generation {gen!r}; known: {', '.join(h.generations)}")
    deps: dict[str, set[str]] = {g: set() for g in h.generations}
    for ca in h.cas.values():
        for other in [*ca.cross_with, *([ca.link_from] if ca.link_from else [])]:
            g = h.cas[other].generation
            if g != ca.generation and ca.generation in deps:
                deps[ca.generation].add(g)
    order: list[str] = []

    def visit(g: str) -> None:
        if g in order:
            return
        for d in sorted(deps[g]):
            visit(d)
        order.append(g)

    for g in wanted:
        visit(g)
    return [g for g in order if g not in existing]


def issuing_order(h: Hierarchy, generation: str) -> list[CaSpec]:
    """The CAs of ``generation``, each after the CA that issues its certificate."""
    specs = list(h.cas_of(generation))
    ordered: list[CaSpec] = []
    while len(ordered) < len(specs):
        progressed = False
        for spec in specs:
            if spec in ordered:
                continue
            if spec.self_signed or any(o.id == spec.issuer for o in ordered):
                ordered.append(spec)
                progressed = True
        if not progressed:
            raise PkiError(f"generation {generation}: CA issuers form a cycle or leave it")
    return ordered


def partners_missing(h: Hierarchy, generation: str, known: Collection[str]) -> str | None:
    """Why ``generation`` cannot be set up yet (a partner of another generation is not), or
    None."""
    for spec in h.cas_of(generation):
        for other in [*spec.cross_with, *([spec.link_from] if spec.link_from else [])]:
            if other not in known and h.cas[other].generation != generation:
                return (
                    f"CA {spec.id!r} needs {other!r} (generation {h.cas[other].generation})"
                    " to be set up first"
                )
    return None


def build_generation(
    h: Hierarchy,
    generation: str,
    *,
    keys: Mapping[str, PrivateKey],
    now: datetime,
    signer_of: Callable[[str], Signer],
) -> GenerationCertificates:
    """Every certificate standing up ``generation`` needs, signed in memory.

    ``keys`` holds a new key per CA of the generation; ``signer_of`` gives the signer of a
    CA already set up (a cross partner or the link source).
    """
    gspec = h.generations[generation]
    ordered = issuing_order(h, generation)
    made: list[MadeCertificate] = []
    signers: dict[str, Signer] = {}
    validity = timedelta(days=gspec.ca_validity_days)
    for spec in ordered:
        key = keys[spec.id]
        if spec.self_signed:
            not_after = now + validity
            signer = Signer(
                spec=spec, name=ca_name(spec), key=key, hash=gspec.hash, not_after=not_after
            )
            issuer, kind, path_length = signer, CertKind.SELF, None
        else:
            issuer = signers[spec.issuer]
            not_after = min(issuer.not_after, now + validity)
            signer = Signer(
                spec=spec, name=ca_name(spec), key=key, hash=gspec.hash, not_after=not_after
            )
            kind, path_length = CertKind.SUB_CA, 0
        cert = build_ca_certificate(
            h,
            issuer=issuer,
            subject=spec,
            subject_key=key.public_key(),
            now=now,
            not_after=not_after,
            path_length=path_length,
        )
        made.append(MadeCertificate(cert, issuer.spec.id, kind, spec.id, generation))
        signers[spec.id] = signer

    def known(ca_id: str) -> Signer:
        return signers[ca_id] if ca_id in signers else signer_of(ca_id)

    def cross(issuer_id: str, subject_id: str, kind: CertKind) -> None:
        issuer, subject = known(issuer_id), known(subject_id)
        cert = build_ca_certificate(
            h,
            issuer=issuer,
            subject=subject.spec,
            subject_key=subject.public_key,
            now=now,
            not_after=min(issuer.not_after, subject.not_after),
            path_length=None,
        )
        made.append(MadeCertificate(cert, issuer_id, kind, subject_id, issuer.spec.generation))

    for spec in ordered:
        for partner in spec.cross_with:
            cross(partner, spec.id, CertKind.CROSS)
            cross(spec.id, partner, CertKind.CROSS)
        if spec.link_from:
            cross(spec.link_from, spec.id, CertKind.LINK)  # NewWithOld
            cross(spec.id, spec.link_from, CertKind.LINK)  # OldWithNew
    return GenerationCertificates(ordered=tuple(ordered), signers=signers, made=tuple(made))


def forward_bundle(anchor_ca: str, edges: Sequence[tuple[str, str, bytes]]) -> list[bytes]:
    """Forward-only intermediates towards ``anchor_ca``: breadth-first from the anchor along
    issuer -> subject edges, never back towards it (no loops for path builders)."""
    reached = {anchor_ca}
    frontier = {anchor_ca}
    out: list[bytes] = []
    while frontier:
        layer = [(i, s, d) for i, s, d in edges if i in frontier and s not in reached]
        frontier = {s for _, s, _ in layer}
        reached |= frontier
        out += [d for _, _, d in layer]
    return out
