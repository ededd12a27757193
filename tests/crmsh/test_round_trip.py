"""Property tests: generated configurations survive render -> parse; rendering is stable;
arbitrary text never raises anything but CrmSyntaxError."""

from __future__ import annotations

import pytest
from crm_samples import CLUSTERS_FROM_SCRATCH, comparable
from crm_strategies import configurations, crm_like_text
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from raftha.crmsh import CrmSyntaxError, parse_configuration, render_configuration, verify

QUICK = settings(max_examples=60, deadline=None,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
LONG = settings(max_examples=5000, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def check_round_trip(configuration) -> None:
    text = render_configuration(configuration)
    parsed = parse_configuration(text)
    assert comparable(parsed) == comparable(configuration), text
    assert render_configuration(parsed) == text
    assert isinstance(verify(parsed), list)


@QUICK
@given(configurations())
def test_generated_configurations_round_trip(configuration):
    check_round_trip(configuration)


@pytest.mark.slow
@LONG
@given(configurations())
def test_generated_configurations_round_trip_long(configuration):
    check_round_trip(configuration)


def check_only_syntax_errors(text: str) -> None:
    try:
        configuration = parse_configuration(text)
    except CrmSyntaxError as error:
        assert str(error).startswith(f"line {error.line}, column {error.column}: ")
        assert "\n" not in str(error)
        return
    # Whatever parses must render and read back to the same configuration.
    assert parse_configuration(render_configuration(configuration)) == configuration


@QUICK
@given(st.text(max_size=200))
def test_arbitrary_text_raises_only_syntax_errors(text):
    check_only_syntax_errors(text)


@QUICK
@given(crm_like_text)
def test_crm_like_text_raises_only_syntax_errors(text):
    check_only_syntax_errors(text)


@QUICK
@given(st.data())
def test_mutated_clusters_from_scratch_raises_only_syntax_errors(data):
    text = CLUSTERS_FROM_SCRATCH
    for _ in range(data.draw(st.integers(1, 4))):
        position = data.draw(st.integers(0, len(text)))
        if data.draw(st.booleans()):
            text = text[:position] + text[position + data.draw(st.integers(1, 8)):]
        else:
            text = text[:position] + data.draw(st.text(max_size=4)) + text[position:]
    check_only_syntax_errors(text)


@pytest.mark.slow
@LONG
@given(st.one_of(st.text(max_size=2000), crm_like_text))
def test_fuzz_long(text):
    check_only_syntax_errors(text)


def test_limits_refuse_oversized_text():
    from raftha import crmsh
    with pytest.raises(CrmSyntaxError, match="longer than"):
        parse_configuration("#" * (crmsh.MAX_TEXT_CHARACTERS + 1))
    deep = "location l A rule 1: " + "( " * 40 + "a eq 1" + " )" * 40
    with pytest.raises(CrmSyntaxError, match="nested deeper"):
        parse_configuration("primitive A ocf:pacemaker:Dummy\n" + deep + "\n")
