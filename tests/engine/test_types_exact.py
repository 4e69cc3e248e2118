"""The engine's input records at their exact edges: a probability is a number in [0, 1],
a one-state loss chain that never leaves Good, a latency change of exactly zero."""

from __future__ import annotations

import math

import pytest

from lgwan_sim.engine import EventKind, LossModel, TimelineEvent
from lgwan_sim.errors import InputError


@pytest.mark.parametrize("p", [0.0, 0.25, 1.0, 1])
def test_a_probability_from_0_to_1_is_taken(p):
    assert LossModel.random(p).loss_good == float(p)


@pytest.mark.parametrize("p", [-0.01, 1.0000001, 1.5, 2.0, math.nan, math.inf, True, "0.5"])
def test_anything_else_is_not_a_probability(p):
    with pytest.raises(InputError) as exc:
        LossModel.random(p)
    assert exc.value.field == "loss"


def test_a_chain_that_never_leaves_good_loses_its_good_loss_even_if_bad_is_a_trap():
    # p = 0: Bad is never reached, so r = 0 (Bad for ever) is allowed and never divides
    model = LossModel(p_good_to_bad=0.0, p_bad_to_good=0.0, loss_good=0.125)
    assert model.mean_loss == 0.125


def test_a_latency_change_of_exactly_zero_delay_and_jitter_is_taken():
    event = TimelineEvent(
        at_s=0.0, kind=EventKind.LINK_LATENCY, links=("a~b",), delay_s=0.0, jitter_s=0.0
    )
    assert event.delay_s == 0.0
    with pytest.raises(InputError) as exc:
        TimelineEvent(at_s=0.0, kind=EventKind.LINK_LATENCY, links=("a~b",), delay_s=-1e-9)
    assert exc.value.field.endswith(".delay_s")
