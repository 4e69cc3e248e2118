"""LGPKI figures: key generation, national issuance, message verification, a 100k CRL.

Run ``python benchmarks/bench_pki.py`` (``--help`` for options). Prints one table per
figure. Timings are wall-clock medians or totals on this machine; expect +-30 % under load.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding

from lgwan_sim.lgpki import (
    KeyType,
    MessageSigner,
    MessageVerifier,
    Pki,
    RevocationStore,
    SiteInfo,
    generate_key,
    verifier_from_pki,
)
from lgwan_sim.lgpki._build import build_crl
from lgwan_sim.lgpki._message import ALGORITHMS
from lgwan_sim.lgpki._verify import issuer_key

NOW = datetime(2020, 5, 1, tzinfo=UTC)
PASS = b"bench"


def _table(title: str, header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    print(f"\n## {title}\n")
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")


def _time(fn: Callable[[], object], repeat: int) -> float:
    """Median seconds of ``repeat`` calls."""
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def bench_keys(counts: dict[KeyType, int]) -> dict[KeyType, float]:
    rows, per_key = [], {}
    for kt, n in counts.items():
        t0 = time.perf_counter()
        for _ in range(n):
            generate_key(kt)
        s = (time.perf_counter() - t0) / n
        per_key[kt] = s
        rows.append((kt.value, str(n), f"{s * 1e3:.3f}", f"{1 / s:,.0f}", f"{1788 * s:.1f}"))
    _table(
        "Key generation (per key type)",
        ("key", "keys", "ms/key", "keys/s", "s for 1,788 keys"),
        rows,
    )
    return per_key


def _sites(national: bool) -> list[SiteInfo]:
    if national:
        from lgwan_sim.network import build_national

        topo = build_national()
        return [
            SiteInfo(id=s.id, kind=str(s.kind), name=s.name, name_ja=s.name_ja)
            for s in (topo.sites[k] for k in sorted(topo.sites))
        ]
    return [SiteInfo(id=f"mun-{i:04d}", kind="municipality", name=f"M{i}") for i in range(200)]


def bench_issuance(root: Path, national: bool, ee_key: KeyType) -> Pki:
    sites = _sites(national)
    home = root / "national"
    pki = Pki.create(home, passphrase=PASS, now=NOW - timedelta(days=30), generations=["G2"])
    eligible = [s for s in sites if s.kind in pki.hierarchy.bulk]
    t0 = time.perf_counter()
    keys = {s.id: generate_key(ee_key) for s in eligible}
    keygen_s = time.perf_counter() - t0
    t0, c0 = time.perf_counter(), time.process_time()
    issued = pki.issue_for_sites(eligible, now=NOW, keys=keys)
    issue_s = time.perf_counter() - t0
    issue_cpu_s = time.process_time() - c0
    by_kind: dict[str, int] = {}
    for s in eligible:
        by_kind[s.kind] = by_kind.get(s.kind, 0) + 1
    report = pki.check_integrity()
    assert report.ok, report.problems
    kinds = ", ".join(f"{n} {k}" for k, n in sorted(by_kind.items()))
    _table(
        "Bulk issuance, durable (SQLite WAL synchronous=FULL, keys encrypted + fsynced, "
        "every certificate published atomically)",
        ("what", "value"),
        [
            ("sites", f"{len(issued)} ({kinds})"),
            ("CA keys", "RSA-2048 / SHA-256 (G2 Organisation CA and Application Sub1)"),
            ("end-entity keys", f"{ee_key.value}, generated beforehand"),
            ("key generation (separate)", f"{keygen_s:.2f} s"),
            ("sign + store + publish", f"{issue_s:.2f} s ({len(issued) / issue_s:,.0f} certs/s)"),
            # on a shared machine the wall time includes waiting for a core; the CPU time
            # of this process does not (fsync waits are in the wall time only)
            ("  of it CPU time of this process", f"{issue_cpu_s:.2f} s"),
            (
                "published files / audit records",
                f"{report.published_files} / {report.audit_records}",
            ),
        ],
    )
    return pki


def bench_messages(pki: Pki, n: int) -> None:
    pki.publish_crls(now=NOW)
    now = NOW + timedelta(minutes=1)
    verifier = verifier_from_pki(pki, "bridge_g2")
    msg_oid = pki.hierarchy.message_signing_oid.dotted_string
    rows = []
    for profile, label in (("message", "ECDSA P-256"), ("role", "RSA-2048")):
        site = SiteInfo(id=f"bench-{profile}", kind="asp", name="bench")
        issued = pki.issue(
            site,
            profile=profile,
            now=NOW,
            key_type=KeyType.P256 if profile == "message" else KeyType.RSA2048,
        )
        pki.publish_crls(now=NOW)
        verifier = verifier_from_pki(pki, "bridge_g2")
        signer = MessageSigner(
            sender=site.id, key=pki.private_key(issued), certificate=issued.certificate
        )
        payload = bytes(1024)
        messages = [signer.sign(topic="bench", payload=payload, now=now) for _ in range(n)]
        key = issued.certificate.public_key()
        datas = [(m.signature, m.canonical_bytes()) for m in messages]
        _, hash_ = ALGORITHMS[signer.algorithm]
        msg_rates, raw_rates = [], []
        mv = MessageVerifier(verifier, message_signing_oid=msg_oid)
        mv.verify(signer.sign(topic="warm", payload=payload, now=now), now=now)  # path cache
        pkcs1, ecdsa = padding.PKCS1v15(), ec.ECDSA(hash_)

        # Alternate blocks of the two loops and keep each one's best block (as timeit
        # does): on a shared machine the minimum is the least disturbed measurement.
        block = 500
        for start in range(0, n, block):
            t0 = time.perf_counter()
            for m in messages[start : start + block]:
                mv.verify(m, now=now)
            msg_rates.append(block / (time.perf_counter() - t0))
            part = datas[start : start + block]
            t0 = time.perf_counter()
            if isinstance(key, rsa.RSAPublicKey):
                for sig, data in part:
                    key.verify(sig, data, pkcs1, hash_)
            else:
                assert isinstance(key, ec.EllipticCurvePublicKey)
                for sig, data in part:
                    key.verify(sig, data, ecdsa)
            raw_rates.append(block / (time.perf_counter() - t0))
        msg_rate, raw_rate = max(msg_rates), max(raw_rates)
        path_len = len(verifier.build_path(issued.certificate, now=now).certificates)
        rows.append(
            (
                label,
                str(path_len),
                f"{msg_rate:,.0f}",
                f"{raw_rate:,.0f}",
                f"{msg_rate / raw_rate:.0%}",
            )
        )
    _table(
        f"Message verification, cached path, all checks, 1 KiB payload, {n:,} messages"
        " (best 500-message block of each loop, the two loops alternating)",
        ("sender key", "path length", "messages/s", "raw verify/s (same bytes)", "ratio"),
        rows,
    )


def bench_crl(pki: Pki, entries: int) -> None:
    signer = pki.signers.get("org_g2")  # the builder the CA uses
    serials = [x509.random_serial_number() for _ in range(entries)]
    when = NOW - timedelta(days=1)
    rows = []
    t0 = time.perf_counter()
    crl = build_crl(
        pki.hierarchy,
        issuer=signer,
        scope="crl",
        number=1_000,
        base_number=None,
        entries=[(s, when, x509.ReasonFlags.key_compromise) for s in serials],
        this_update=NOW,
        next_update=NOW + timedelta(hours=48),
    )
    rows.append(("build + sign (RSA-2048 CA)", f"{(time.perf_counter() - t0) * 1e3:,.0f} ms"))
    der = crl.public_bytes(Encoding.DER)
    rows.append(("DER size", f"{len(der):,} B ({len(der) / entries:.0f} B/entry)"))
    rows.append(("parse (lazy)", f"{_time(lambda: x509.load_der_x509_crl(der), 5) * 1e3:.2f} ms"))
    issuer = pki.anchor("org_g2")
    store = RevocationStore()
    t0 = time.perf_counter()
    store.add(x509.load_der_x509_crl(der), issuer)
    rows.append(
        (
            "verify + index as a set (RevocationStore.add)",
            f"{(time.perf_counter() - t0) * 1e3:,.0f} ms",
        )
    )
    ref = issuer_key(issuer)
    probe = x509.random_serial_number()
    k = 100_000
    policy = verifier_from_pki(pki, "bridge_g2").policy
    t0 = time.perf_counter()
    for _ in range(k):
        store.check(ref, probe, False, NOW, policy)
    rows.append(
        (
            "status look-up (absent serial, fail-closed checks)",
            f"{(time.perf_counter() - t0) / k * 1e6:.2f} us",
        )
    )
    loaded = x509.load_der_x509_crl(der)
    last = serials[-1]
    t_lin = _time(lambda: loaded.get_revoked_certificate_by_serial_number(last), 3)
    rows.append(
        ("cryptography linear search, last entry (for comparison)", f"{t_lin * 1e3:.2f} ms")
    )
    if shutil.which("openssl"):
        with tempfile.TemporaryDirectory() as tmp:
            crl_file = Path(tmp) / "big.crl"
            crl_file.write_bytes(crl.public_bytes(Encoding.PEM))
            leaf = pki.certificates(issuer_ca="org_g2")[-1]
            leaf_file = Path(tmp) / "leaf.pem"
            leaf_file.write_bytes(leaf.certificate.public_bytes(Encoding.PEM))
            args = [
                "openssl",
                "verify",
                "-attime",
                str(int((NOW + timedelta(hours=1)).timestamp())),
                "-CAfile",
                str(pki.repo / "anchors" / "org_g2.pem"),
                "-crl_check",
                "-CRLfile",
                str(crl_file),
                str(leaf_file),
            ]
            t0 = time.perf_counter()
            done = subprocess.run(args, capture_output=True, text=True, check=False)
            rows.append(
                (
                    "openssl verify -crl_check with it (whole process)",
                    f"{(time.perf_counter() - t0) * 1e3:,.0f} ms ({done.stdout.strip().split(': ')[-1]})",
                )
            )
    _table(f"CRL with {entries:,} revoked certificates", ("step", "result"), rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--small", action="store_true", help="200 synthetic sites, fewer messages")
    parser.add_argument(
        "--ee-key",
        choices=[k.value for k in KeyType],
        default="p256",
        help="end-entity key type for the bulk issuance (default p256)",
    )
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--crl-entries", type=int, default=100_000)
    args = parser.parse_args(argv)
    print(f"python {sys.version.split()[0]}, cryptography {__import__('cryptography').__version__}")
    bench_keys({KeyType.RSA2048: 10 if args.small else 30, KeyType.RSA1024: 50, KeyType.P256: 2000})
    with tempfile.TemporaryDirectory(dir=None) as tmp:
        pki = bench_issuance(Path(tmp), national=not args.small, ee_key=KeyType(args.ee_key))
        try:
            bench_messages(pki, 2_000 if args.small else args.messages)
            bench_crl(pki, 10_000 if args.small else args.crl_entries)
        finally:
            pki.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
