"""Certificate policy processing, RFC 5280 §6.1: the valid policy tree.

``process_policies`` runs §6.1.2 (initialisation), §6.1.3 (d)-(f), §6.1.4 (a)-(b), (h)-(j)
and §6.1.5 (a)-(b), (g) over a path given from the certificate issued by the trust anchor
down to the target. ``cryptography`` has no class for policyMappings; its DER is parsed by
:func:`lgwan_sim.lgpki._crypto.parse_policy_mappings`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from cryptography import x509

from lgwan_sim.lgpki._crypto import parse_policy_mappings
from lgwan_sim.lgpki._names import name_key

__all__ = ["ANY_POLICY", "POLICY_MAPPINGS_OID", "PolicyError", "process_policies"]

ANY_POLICY = "2.5.29.32.0"
POLICY_MAPPINGS_OID = x509.ObjectIdentifier("2.5.29.33")


class PolicyError(Exception):
    """The path fails policy processing; the message says where."""


@dataclass(eq=False, slots=True)
class _Node:
    policy: str
    expected: set[str]
    parent: _Node | None
    children: list[_Node] = field(default_factory=list)


def _ext(cert: x509.Certificate, cls: type[x509.ExtensionType]) -> x509.ExtensionType | None:
    try:
        return cert.extensions.get_extension_for_class(cls).value
    except x509.ExtensionNotFound:
        return None


def policy_mappings(cert: x509.Certificate) -> list[tuple[str, str]] | None:
    try:
        raw = cert.extensions.get_extension_for_oid(POLICY_MAPPINGS_OID).value
    except x509.ExtensionNotFound:
        return None
    assert isinstance(raw, x509.UnrecognizedExtension)
    return parse_policy_mappings(raw.value)


def _prune(level_nodes: list[list[_Node]], depth: int) -> None:
    """Remove nodes above ``depth`` that have no children, bottom up."""
    for d in range(depth - 1, -1, -1):
        keep = []
        for node in level_nodes[d]:
            if node.children:
                keep.append(node)
            elif node.parent is not None:
                node.parent.children.remove(node)
        level_nodes[d] = keep


def process_policies(
    path: Sequence[x509.Certificate],
    *,
    initial_policies: frozenset[str] | None,
    explicit: bool,
    inhibit_mapping: bool,
    inhibit_any: bool,
) -> None:
    """Raise :class:`PolicyError` unless ``path`` (anchor excluded, target last) passes.

    ``initial_policies`` ``None`` stands for {anyPolicy}.
    """
    n = len(path)
    root = _Node(ANY_POLICY, {ANY_POLICY}, None)
    levels: list[list[_Node]] | None = [[root]]
    explicit_policy = 0 if explicit else n + 1
    inhibit_any_policy = 0 if inhibit_any else n + 1
    policy_mapping = 0 if inhibit_mapping else n + 1
    for i, cert in enumerate(path, start=1):
        self_issued = name_key(cert.subject) == name_key(cert.issuer)
        pols = _ext(cert, x509.CertificatePolicies)
        # §6.1.3 (d)
        if isinstance(pols, x509.CertificatePolicies) and levels is not None:
            prev = levels[i - 1]
            new: list[_Node] = []
            asserted = [p.policy_identifier.dotted_string for p in pols]
            for oid in asserted:
                if oid == ANY_POLICY:
                    continue
                matched = False
                for node in prev:
                    if oid in node.expected:
                        child = _Node(oid, {oid}, node)
                        node.children.append(child)
                        new.append(child)
                        matched = True
                if not matched:
                    for node in prev:
                        if node.policy == ANY_POLICY:
                            child = _Node(oid, {oid}, node)
                            node.children.append(child)
                            new.append(child)
            if ANY_POLICY in asserted and (inhibit_any_policy > 0 or (i < n and self_issued)):
                for node in prev:
                    have = {c.policy for c in node.children}
                    for oid in sorted(node.expected):
                        if oid not in have:
                            child = _Node(oid, {oid}, node)
                            node.children.append(child)
                            new.append(child)
            levels.append(new)
            _prune(levels, i)
            if not levels[i]:
                levels = None
        # §6.1.3 (e)
        elif levels is not None:
            levels = None
        # §6.1.3 (f)
        if explicit_policy <= 0 and levels is None:
            raise PolicyError(f"no acceptable policy at certificate {i} of {n}")
        if i == n:
            break
        # §6.1.4 (a)-(b)
        mappings = policy_mappings(cert)
        if mappings:
            for a, b in mappings:
                if ANY_POLICY in (a, b):
                    raise PolicyError(f"certificate {i} maps to or from anyPolicy")
            if levels is not None:
                by_issuer: dict[str, set[str]] = {}
                for a, b in mappings:
                    by_issuer.setdefault(a, set()).add(b)
                for a, bs in by_issuer.items():
                    at_i = [node for node in levels[i] if node.policy == a]
                    if policy_mapping > 0:
                        if at_i:
                            for node in at_i:
                                node.expected = set(bs)
                        else:
                            for node in levels[i]:
                                if node.policy == ANY_POLICY and node.parent is not None:
                                    child = _Node(a, set(bs), node.parent)
                                    node.parent.children.append(child)
                                    levels[i].append(child)
                    else:
                        for node in at_i:
                            levels[i].remove(node)
                            if node.parent is not None:
                                node.parent.children.remove(node)
                if policy_mapping <= 0:
                    _prune(levels, i)
                    if not levels[i]:
                        levels = None
        # §6.1.4 (h)-(j)
        if not self_issued:
            explicit_policy = max(explicit_policy - 1, 0)
            policy_mapping = max(policy_mapping - 1, 0)
            inhibit_any_policy = max(inhibit_any_policy - 1, 0)
        pc = _ext(cert, x509.PolicyConstraints)
        if isinstance(pc, x509.PolicyConstraints):
            if pc.require_explicit_policy is not None:
                explicit_policy = min(explicit_policy, pc.require_explicit_policy)
            if pc.inhibit_policy_mapping is not None:
                policy_mapping = min(policy_mapping, pc.inhibit_policy_mapping)
        iap = _ext(cert, x509.InhibitAnyPolicy)
        if isinstance(iap, x509.InhibitAnyPolicy):
            inhibit_any_policy = min(inhibit_any_policy, iap.skip_certs)
    # §6.1.5 (a)-(b)
    explicit_policy = max(explicit_policy - 1, 0)
    pc = _ext(path[-1], x509.PolicyConstraints) if path else None
    if isinstance(pc, x509.PolicyConstraints) and pc.require_explicit_policy == 0:
        explicit_policy = 0
    # §6.1.5 (g): intersect with the user's initial policy set
    if levels is not None and initial_policies is not None and ANY_POLICY not in initial_policies:
        _intersect(levels, n, initial_policies)
        if not levels[n]:
            levels = None
    if explicit_policy <= 0 and levels is None:
        raise PolicyError("none of the acceptable policies is valid for the path")


def _intersect(levels: list[list[_Node]], n: int, wanted: frozenset[str]) -> None:
    # (iii) 2: nodes whose parent is anyPolicy and whose own policy is not wanted go
    for d in range(1, n + 1):
        for node in list(levels[d]):
            if (
                node.parent is not None
                and node.parent.policy == ANY_POLICY
                and node.policy != ANY_POLICY
                and node.policy not in wanted
            ):
                _remove_subtree(levels, d, node)
    # (iii) 3: an anyPolicy leaf becomes one leaf per wanted policy not yet there
    for node in list(levels[n]):
        if node.policy == ANY_POLICY:
            levels[n].remove(node)
            parent = node.parent
            if parent is not None:
                parent.children.remove(node)
                have = {c.policy for c in levels[n]}
                for oid in sorted(wanted - have):
                    child = _Node(oid, {oid}, parent)
                    parent.children.append(child)
                    levels[n].append(child)
    _prune(levels, n)


def _remove_subtree(levels: list[list[_Node]], depth: int, node: _Node) -> None:
    if node.parent is not None:
        node.parent.children.remove(node)
    stack = [(depth, node)]
    while stack:
        d, cur = stack.pop()
        if cur in levels[d]:
            levels[d].remove(cur)
        stack.extend((d + 1, c) for c in cur.children)
