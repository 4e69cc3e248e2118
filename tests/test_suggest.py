"""``did_you_mean``: difflib's close matches, folded for case, in one phrase."""

from lgwan_sim._suggest import close_matches, did_you_mean


def test_close_matches_are_closest_first_and_ignore_case():
    ids = ["pn-03", "pn-08", "pn-30", "central-east"]
    assert close_matches("PN-03", ids)[0] == "pn-03"
    assert did_you_mean("pn-3", ["pn-03"]) == "did you mean 'pn-03'?"
    assert did_you_mean("pn-03x", ["pn-03", "pn-08"]) == "did you mean 'pn-03' or 'pn-08'?"
    assert did_you_mean("tokyo", ids) == ""
