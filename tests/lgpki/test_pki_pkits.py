"""NIST PKITS (Public Key Interoperability Test Suite), sections 4.1 to 4.16.

The certificates and CRLs come from the ``cryptography-vectors`` package
(``x509/PKITS_data``). Each test names its end-entity certificate; the verifier gets the
trust anchor, every CA certificate of the suite as the pool to build paths from, and every
CRL of the suite, so it must itself pick the right issuer and the lists whose scope covers
each certificate. The expected outcome of each test is the one the PKITS description
gives for the default inputs (initial-policy-set anyPolicy, no explicit policy, policy
mapping and anyPolicy allowed); a few tests are also run with the other inputs their
descriptions name. DSA tests (4.1.4 to 4.1.6) are left out: the verifier accepts RSA and
ECDSA keys only.
"""

from __future__ import annotations

import warnings
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import pytest
from cryptography import x509

from lgwan_sim.errors import VerificationError
from lgwan_sim.lgpki import AlgorithmPolicy, RevocationStore, Verifier

cryptography_vectors = pytest.importorskip("cryptography_vectors")

DATA = Path(cryptography_vectors.__file__).parent / "x509" / "PKITS_data"
NOW = datetime(2020, 1, 1, tzinfo=UTC)
POLICY_1 = "2.16.840.1.101.3.2.1.48.1"
POLICY_2 = "2.16.840.1.101.3.2.1.48.2"

#: PKITS test number, end-entity certificate (without ``EE.crt``), expected outcome and, for
#: an invalid path, the verifier's reason for what the description says is wrong.
CASES = """
    4.1.1   ValidCertificatePathTest1                        valid
    4.1.2   InvalidCASignatureTest2                          invalid bad-certificate-signature
    4.1.3   InvalidEESignatureTest3                          invalid bad-certificate-signature
    4.2.1   InvalidCAnotBeforeDateTest1                      invalid not-yet-valid
    4.2.2   InvalidEEnotBeforeDateTest2                      invalid not-yet-valid
    4.2.3   Validpre2000UTCnotBeforeDateTest3                valid
    4.2.4   ValidGeneralizedTimenotBeforeDateTest4           valid
    4.2.5   InvalidCAnotAfterDateTest5                       invalid expired
    4.2.6   InvalidEEnotAfterDateTest6                       invalid expired
    4.2.7   Invalidpre2000UTCEEnotAfterDateTest7             invalid expired
    4.2.8   ValidGeneralizedTimenotAfterDateTest8            valid
    4.3.1   InvalidNameChainingTest1                         invalid unknown-issuer
    4.3.2   InvalidNameChainingOrderTest2                    invalid unknown-issuer
    4.3.3   ValidNameChainingWhitespaceTest3                 valid
    4.3.4   ValidNameChainingWhitespaceTest4                 valid
    4.3.5   ValidNameChainingCapitalizationTest5             valid
    4.3.6   ValidNameUIDsTest6                               valid
    4.3.7   ValidRFC3280MandatoryAttributeTypesTest7         valid
    4.3.8   ValidRFC3280OptionalAttributeTypesTest8          valid
    4.3.9   ValidUTF8StringEncodedNamesTest9                 valid
    4.3.10  ValidRolloverfromPrintableStringtoUTF8StringTest10 valid
    4.3.11  ValidUTF8StringCaseInsensitiveMatchTest11        valid
    4.4.1   InvalidMissingCRLTest1                           invalid crl-missing
    4.4.2   InvalidRevokedCATest2                            invalid ca-revoked
    4.4.3   InvalidRevokedEETest3                            invalid revoked
    4.4.4   InvalidBadCRLSignatureTest4                      invalid crl-missing
    4.4.5   InvalidBadCRLIssuerNameTest5                     invalid crl-missing
    4.4.6   InvalidWrongCRLTest6                             invalid crl-missing
    4.4.7   ValidTwoCRLsTest7                                valid
    4.4.8   InvalidUnknownCRLEntryExtensionTest8             invalid crl-missing
    4.4.9   InvalidUnknownCRLExtensionTest9                  invalid crl-missing
    4.4.10  InvalidUnknownCRLExtensionTest10                 invalid crl-missing
    4.4.11  InvalidOldCRLnextUpdateTest11                    invalid crl-stale
    4.4.12  Invalidpre2000CRLnextUpdateTest12                invalid crl-stale
    4.4.13  ValidGeneralizedTimeCRLnextUpdateTest13          valid
    4.4.14  ValidNegativeSerialNumberTest14                  valid
    4.4.15  InvalidNegativeSerialNumberTest15                invalid revoked
    4.4.16  ValidLongSerialNumberTest16                      valid
    4.4.17  ValidLongSerialNumberTest17                      valid
    4.4.18  InvalidLongSerialNumberTest18                    invalid revoked
    4.4.19  ValidSeparateCertificateandCRLKeysTest19         valid
    4.4.20  InvalidSeparateCertificateandCRLKeysTest20       invalid revoked
    4.4.21  InvalidSeparateCertificateandCRLKeysTest21       invalid crl-signer
    4.5.1   ValidBasicSelfIssuedOldWithNewTest1              valid
    4.5.2   InvalidBasicSelfIssuedOldWithNewTest2            invalid revoked
    4.5.3   ValidBasicSelfIssuedNewWithOldTest3              valid
    4.5.4   ValidBasicSelfIssuedNewWithOldTest4              valid
    4.5.5   InvalidBasicSelfIssuedNewWithOldTest5            invalid revoked
    4.5.6   ValidBasicSelfIssuedCRLSigningKeyTest6           valid
    4.5.7   InvalidBasicSelfIssuedCRLSigningKeyTest7         invalid revoked
    4.5.8   InvalidBasicSelfIssuedCRLSigningKeyTest8         invalid not-a-ca
    4.6.1   InvalidMissingbasicConstraintsTest1              invalid not-a-ca
    4.6.2   InvalidcAFalseTest2                              invalid not-a-ca
    4.6.3   InvalidcAFalseTest3                              invalid not-a-ca
    4.6.4   ValidbasicConstraintsNotCriticalTest4            valid
    4.6.5   InvalidpathLenConstraintTest5                    invalid path-length
    4.6.6   InvalidpathLenConstraintTest6                    invalid path-length
    4.6.7   ValidpathLenConstraintTest7                      valid
    4.6.8   ValidpathLenConstraintTest8                      valid
    4.6.9   InvalidpathLenConstraintTest9                    invalid path-length
    4.6.10  InvalidpathLenConstraintTest10                   invalid path-length
    4.6.11  InvalidpathLenConstraintTest11                   invalid path-length
    4.6.12  InvalidpathLenConstraintTest12                   invalid path-length
    4.6.13  ValidpathLenConstraintTest13                     valid
    4.6.14  ValidpathLenConstraintTest14                     valid
    4.6.15  ValidSelfIssuedpathLenConstraintTest15           valid
    4.6.16  InvalidSelfIssuedpathLenConstraintTest16         invalid path-length
    4.6.17  ValidSelfIssuedpathLenConstraintTest17           valid
    4.7.1   InvalidkeyUsageCriticalkeyCertSignFalseTest1     invalid not-a-ca
    4.7.2   InvalidkeyUsageNotCriticalkeyCertSignFalseTest2  invalid not-a-ca
    4.7.3   ValidkeyUsageNotCriticalTest3                    valid
    4.7.4   InvalidkeyUsageCriticalcRLSignFalseTest4         invalid crl-missing
    4.7.5   InvalidkeyUsageNotCriticalcRLSignFalseTest5      invalid crl-missing
    4.8.1   ValidCertificatePathTest1                        valid
    4.8.2   AllCertificatesNoPoliciesTest2                   valid
    4.8.3   DifferentPoliciesTest3                           valid
    4.8.4   DifferentPoliciesTest4                           invalid policy
    4.8.5   DifferentPoliciesTest5                           invalid policy
    4.8.6   OverlappingPoliciesTest6                         valid
    4.8.7   DifferentPoliciesTest7                           invalid policy
    4.8.8   DifferentPoliciesTest8                           invalid policy
    4.8.9   DifferentPoliciesTest9                           invalid policy
    4.8.10  AllCertificatesSamePoliciesTest10                valid
    4.8.11  AllCertificatesanyPolicyTest11                   valid
    4.8.12  DifferentPoliciesTest12                          invalid policy
    4.8.13  AllCertificatesSamePoliciesTest13                valid
    4.8.14  AnyPolicyTest14                                  valid
    4.8.15  UserNoticeQualifierTest15                        valid
    4.8.16  UserNoticeQualifierTest16                        valid
    4.8.17  UserNoticeQualifierTest17                        valid
    4.8.18  UserNoticeQualifierTest18                        valid
    4.8.19  UserNoticeQualifierTest19                        valid
    4.8.20  CPSPointerQualifierTest20                        valid
    4.9.1   ValidrequireExplicitPolicyTest1                  valid
    4.9.2   ValidrequireExplicitPolicyTest2                  valid
    4.9.3   InvalidrequireExplicitPolicyTest3                invalid policy
    4.9.4   ValidrequireExplicitPolicyTest4                  valid
    4.9.5   InvalidrequireExplicitPolicyTest5                invalid policy
    4.9.6   ValidSelfIssuedrequireExplicitPolicyTest6        valid
    4.9.7   InvalidSelfIssuedrequireExplicitPolicyTest7      invalid policy
    4.9.8   InvalidSelfIssuedrequireExplicitPolicyTest8      invalid policy
    4.10.1  ValidPolicyMappingTest1                          valid
    4.10.2  InvalidPolicyMappingTest2                        invalid policy
    4.10.3  ValidPolicyMappingTest3                          valid
    4.10.4  InvalidPolicyMappingTest4                        invalid policy
    4.10.5  ValidPolicyMappingTest5                          valid
    4.10.6  ValidPolicyMappingTest6                          valid
    4.10.7  InvalidMappingFromanyPolicyTest7                 invalid policy
    4.10.8  InvalidMappingToanyPolicyTest8                   invalid policy
    4.10.9  ValidPolicyMappingTest9                          valid
    4.10.10 InvalidPolicyMappingTest10                       invalid policy
    4.10.11 ValidPolicyMappingTest11                         valid
    4.10.12 ValidPolicyMappingTest12                         valid
    4.10.13 ValidPolicyMappingTest13                         valid
    4.10.14 ValidPolicyMappingTest14                         valid
    4.11.1  InvalidinhibitPolicyMappingTest1                 invalid policy
    4.11.2  ValidinhibitPolicyMappingTest2                   valid
    4.11.3  InvalidinhibitPolicyMappingTest3                 invalid policy
    4.11.4  ValidinhibitPolicyMappingTest4                   valid
    4.11.5  InvalidinhibitPolicyMappingTest5                 invalid policy
    4.11.6  InvalidinhibitPolicyMappingTest6                 invalid policy
    4.11.7  ValidSelfIssuedinhibitPolicyMappingTest7         valid
    4.11.8  InvalidSelfIssuedinhibitPolicyMappingTest8       invalid policy
    4.11.9  InvalidSelfIssuedinhibitPolicyMappingTest9       invalid policy
    4.11.10 InvalidSelfIssuedinhibitPolicyMappingTest10      invalid policy
    4.11.11 InvalidSelfIssuedinhibitPolicyMappingTest11      invalid policy
    4.12.1  InvalidinhibitAnyPolicyTest1                     invalid policy
    4.12.2  ValidinhibitAnyPolicyTest2                       valid
    4.12.3  inhibitAnyPolicyTest3                            valid
    4.12.4  InvalidinhibitAnyPolicyTest4                     invalid policy
    4.12.5  InvalidinhibitAnyPolicyTest5                     invalid policy
    4.12.6  InvalidinhibitAnyPolicyTest6                     invalid policy
    4.12.7  ValidSelfIssuedinhibitAnyPolicyTest7             valid
    4.12.8  InvalidSelfIssuedinhibitAnyPolicyTest8           invalid policy
    4.12.9  ValidSelfIssuedinhibitAnyPolicyTest9             valid
    4.12.10 InvalidSelfIssuedinhibitAnyPolicyTest10          invalid policy
    4.13.1  ValidDNnameConstraintsTest1                      valid
    4.13.2  InvalidDNnameConstraintsTest2                    invalid name-constraints
    4.13.3  InvalidDNnameConstraintsTest3                    invalid name-constraints
    4.13.4  ValidDNnameConstraintsTest4                      valid
    4.13.5  ValidDNnameConstraintsTest5                      valid
    4.13.6  ValidDNnameConstraintsTest6                      valid
    4.13.7  InvalidDNnameConstraintsTest7                    invalid name-constraints
    4.13.8  InvalidDNnameConstraintsTest8                    invalid name-constraints
    4.13.9  InvalidDNnameConstraintsTest9                    invalid name-constraints
    4.13.10 InvalidDNnameConstraintsTest10                   invalid name-constraints
    4.13.11 ValidDNnameConstraintsTest11                     valid
    4.13.12 InvalidDNnameConstraintsTest12                   invalid name-constraints
    4.13.13 InvalidDNnameConstraintsTest13                   invalid name-constraints
    4.13.14 ValidDNnameConstraintsTest14                     valid
    4.13.15 InvalidDNnameConstraintsTest15                   invalid name-constraints
    4.13.16 InvalidDNnameConstraintsTest16                   invalid name-constraints
    4.13.17 InvalidDNnameConstraintsTest17                   invalid name-constraints
    4.13.18 ValidDNnameConstraintsTest18                     valid
    4.13.19 ValidDNnameConstraintsTest19                     valid
    4.13.20 InvalidDNnameConstraintsTest20                   invalid name-constraints
    4.13.21 ValidRFC822nameConstraintsTest21                 valid
    4.13.22 InvalidRFC822nameConstraintsTest22               invalid name-constraints
    4.13.23 ValidRFC822nameConstraintsTest23                 valid
    4.13.24 InvalidRFC822nameConstraintsTest24               invalid name-constraints
    4.13.25 ValidRFC822nameConstraintsTest25                 valid
    4.13.26 InvalidRFC822nameConstraintsTest26               invalid name-constraints
    4.13.27 ValidDNandRFC822nameConstraintsTest27            valid
    4.13.28 InvalidDNandRFC822nameConstraintsTest28          invalid name-constraints
    4.13.29 InvalidDNandRFC822nameConstraintsTest29          invalid name-constraints
    4.13.30 ValidDNSnameConstraintsTest30                    valid
    4.13.31 InvalidDNSnameConstraintsTest31                  invalid name-constraints
    4.13.32 ValidDNSnameConstraintsTest32                    valid
    4.13.33 InvalidDNSnameConstraintsTest33                  invalid name-constraints
    4.13.34 ValidURInameConstraintsTest34                    valid
    4.13.35 InvalidURInameConstraintsTest35                  invalid name-constraints
    4.13.36 ValidURInameConstraintsTest36                    valid
    4.13.37 InvalidURInameConstraintsTest37                  invalid name-constraints
    4.13.38 InvalidDNSnameConstraintsTest38                  invalid name-constraints
    4.14.1  ValiddistributionPointTest1                      valid
    4.14.2  InvaliddistributionPointTest2                    invalid revoked
    4.14.3  InvaliddistributionPointTest3                    invalid crl-missing
    4.14.4  ValiddistributionPointTest4                      valid
    4.14.5  ValiddistributionPointTest5                      valid
    4.14.6  InvaliddistributionPointTest6                    invalid revoked
    4.14.7  ValiddistributionPointTest7                      valid
    4.14.8  InvaliddistributionPointTest8                    invalid crl-missing
    4.14.9  InvaliddistributionPointTest9                    invalid crl-missing
    4.14.10 ValidNoissuingDistributionPointTest10            valid
    4.14.11 InvalidonlyContainsUserCertsTest11               invalid crl-missing
    4.14.12 InvalidonlyContainsCACertsTest12                 invalid crl-missing
    4.14.13 ValidonlyContainsCACertsTest13                   valid
    4.14.14 InvalidonlyContainsAttributeCertsTest14          invalid crl-missing
    4.14.15 InvalidonlySomeReasonsTest15                     invalid revoked
    4.14.16 InvalidonlySomeReasonsTest16                     invalid revoked
    4.14.17 InvalidonlySomeReasonsTest17                     invalid crl-missing
    4.14.18 ValidonlySomeReasonsTest18                       valid
    4.14.19 ValidonlySomeReasonsTest19                       valid
    4.14.20 InvalidonlySomeReasonsTest20                     invalid revoked
    4.14.21 InvalidonlySomeReasonsTest21                     invalid revoked
    4.14.22 ValidIDPwithindirectCRLTest22                    valid
    4.14.23 InvalidIDPwithindirectCRLTest23                  invalid revoked
    4.14.24 ValidIDPwithindirectCRLTest24                    valid
    4.14.25 ValidIDPwithindirectCRLTest25                    valid
    4.14.26 InvalidIDPwithindirectCRLTest26                  invalid crl-missing
    4.14.27 InvalidcRLIssuerTest27                           invalid crl-missing
    4.14.28 ValidcRLIssuerTest28                             valid
    4.14.29 ValidcRLIssuerTest29                             valid
    4.14.30 ValidcRLIssuerTest30                             valid
    4.14.31 InvalidcRLIssuerTest31                           invalid revoked
    4.14.32 InvalidcRLIssuerTest32                           invalid revoked
    4.14.33 ValidcRLIssuerTest33                             valid
    4.14.34 InvalidcRLIssuerTest34                           invalid revoked
    4.14.35 InvalidcRLIssuerTest35                           invalid crl-missing
    4.15.1  InvaliddeltaCRLIndicatorNoBaseTest1              invalid crl-missing
    4.15.2  ValiddeltaCRLTest2                               valid
    4.15.3  InvaliddeltaCRLTest3                             invalid revoked
    4.15.4  InvaliddeltaCRLTest4                             invalid revoked
    4.15.5  ValiddeltaCRLTest5                               valid
    4.15.6  InvaliddeltaCRLTest6                             invalid revoked
    4.15.7  ValiddeltaCRLTest7                               valid
    4.15.8  ValiddeltaCRLTest8                               valid
    4.15.9  InvaliddeltaCRLTest9                             invalid revoked
    4.15.10 InvaliddeltaCRLTest10                            invalid crl-stale
    4.16.1  ValidUnknownNotCriticalCertificateExtensionTest1 valid
    4.16.2  InvalidUnknownCriticalCertificateExtensionTest2  invalid unknown-critical-extension
"""
TABLE = [(*line.split(), "")[:4] for line in CASES.strip().splitlines()]
#: Tests the descriptions also give with other initial inputs: (test, name, inputs, outcome).
VARIANTS = [
    ("4.8.1", "ValidCertificatePathTest1", {"explicit_policy": True}, "valid"),
    ("4.8.1", "ValidCertificatePathTest1", {"acceptable_policies": [POLICY_1]}, "valid"),
    ("4.8.1", "ValidCertificatePathTest1", {"acceptable_policies": [POLICY_2]}, "invalid"),
    ("4.8.2", "AllCertificatesNoPoliciesTest2", {"explicit_policy": True}, "invalid"),
    ("4.8.3", "DifferentPoliciesTest3", {"explicit_policy": True}, "invalid"),
    ("4.10.1", "ValidPolicyMappingTest1", {"inhibit_policy_mapping": True}, "invalid"),
    ("4.12.3", "inhibitAnyPolicyTest3", {"inhibit_any_policy": True}, "invalid"),
]


def _load(path: Path) -> x509.Certificate:
    with warnings.catch_warnings():
        # PKITS 4.4.14/15 carry a negative serial number on purpose
        warnings.simplefilter("ignore")
        return x509.load_der_x509_certificate(path.read_bytes())


@cache
def _material() -> tuple[x509.Certificate, list[x509.Certificate], RevocationStore]:
    anchor_file = "TrustAnchorRootCertificate.crt"
    anchor = _load(DATA / "certs" / anchor_file)
    pool = []
    for path in sorted((DATA / "certs").glob("*.crt")):
        if path.name.endswith("EE.crt") or path.name == anchor_file:
            continue
        try:
            pool.append(_load(path))
        except ValueError:
            # only DSAParametersInheritedCACert.crt (4.1.5): a DSA key without parameters
            assert "DSAParametersInherited" in path.name
    assert len(pool) > 150
    store = RevocationStore()
    crls = [x509.load_der_x509_crl(p.read_bytes()) for p in sorted((DATA / "crls").glob("*.crl"))]
    store.add_all(crls, [anchor, *pool], strict=False)
    return anchor, pool, store


def _verdict(name: str, **inputs: object) -> tuple[str, str]:
    anchor, pool, store = _material()
    verifier = Verifier(
        anchors=[anchor],
        intermediates=pool,
        revocation=store,
        policy=AlgorithmPolicy(legacy_until=None),
        max_depth=10,
        **inputs,  # type: ignore[arg-type]
    )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the negative serial numbers of 4.4.14/15
            verifier.validate(_load(DATA / "certs" / f"{name}EE.crt"), now=NOW)
    except VerificationError as exc:
        return exc.reason, str(exc)
    return "valid", ""


@pytest.mark.parametrize(("number", "name", "expected", "reason"), TABLE, ids=[t[0] for t in TABLE])
def test_pkits(number: str, name: str, expected: str, reason: str) -> None:
    verdict, why = _verdict(name)
    # an invalid path must be refused for the reason its description gives
    assert verdict == (reason if expected == "invalid" else "valid"), (
        f"PKITS {number} {name}: {verdict} {why}"
    )


@pytest.mark.parametrize(
    ("number", "name", "inputs", "expected"),
    VARIANTS,
    ids=[f"{v[0]}-{'-'.join(v[2])}-{v[3]}" for v in VARIANTS],
)
def test_pkits_with_other_initial_inputs(number, name, inputs, expected) -> None:
    verdict, why = _verdict(name, **inputs)
    # every variant that fails does so on its policies
    assert verdict == ("policy" if expected == "invalid" else "valid"), (
        f"PKITS {number} {name} {inputs}: {verdict} {why}"
    )


def test_every_applicable_case_is_in_the_table() -> None:
    # every end-entity certificate of sections 4.1 to 4.16 is tested, DSA aside
    names = {p.name[: -len("EE.crt")] for p in (DATA / "certs").glob("*EE.crt")}
    dsa = {n for n in names if "DSA" in n}
    assert names - dsa == {t[1] for t in TABLE}
    assert len(TABLE) == len({t[0] for t in TABLE})
