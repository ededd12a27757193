"""Score arithmetic and rule evaluation (Pacemaker semantics, checked against the spec)."""

from raftha.model.config import DateExpression, Expression, Rule
from raftha.scheduler.rules import (
    RuleContext,
    compare_values,
    evaluate_rule,
    parse_interval_ms,
    parse_iso_date,
)
from raftha.scheduler.scores import INFINITY, add_scores, attenuate, colocation_factor, parse_score


def test_infinity_arithmetic_ban_wins():
    assert add_scores(INFINITY, -INFINITY) == -INFINITY
    assert add_scores(INFINITY, 5) == INFINITY
    assert add_scores(999_999, 10) == INFINITY
    assert add_scores(-3, 2) == -1


def test_parse_score_follows_strtoll():
    assert parse_score("INFINITY") == INFINITY
    assert parse_score("-infinity") == -INFINITY
    assert parse_score("+INFINITY") == INFINITY
    assert parse_score("1.0") == 1
    assert parse_score("abc", 7) == 7
    assert parse_score("99999999999") == INFINITY


def test_attenuation_never_rounds_a_nonzero_score_to_zero():
    factor = colocation_factor(-100)
    assert attenuate(factor, 200) == -1
    assert attenuate(colocation_factor(INFINITY), 250) == 250
    assert attenuate(colocation_factor(500_000), 3) == 2  # 1.5 rounds away from zero


def test_typed_comparisons_fall_back_to_strings():
    assert compare_values("10", "9", None) > 0          # integers
    assert compare_values("3.6", "3.4", None) > 0       # numbers
    assert compare_values("3", "3.6", "integer") == 0   # strtoll reads 3
    assert compare_values("as10", "as9", "integer") < 0  # not integers: strings
    assert compare_values("1.10", "1.9", "version") > 0


def test_rules_with_node_attributes_and_boolean_ops():
    rule = Rule(terms=(Expression("#uname", "eq", "node1"),
                       Expression("rack", "eq", "2")), boolean_op="or")
    assert evaluate_rule(rule, RuleContext({"#uname": "node2", "rack": "2"}))
    assert not evaluate_rule(rule, RuleContext({"#uname": "node2", "rack": "3"}))
    missing = Rule(terms=(Expression("absent", "ne", "x"),))
    assert evaluate_rule(missing, RuleContext({}))  # ne holds for an undefined attribute
    source = Rule(terms=(Expression("fake", "eq", "fake", value_source="param"),))
    assert evaluate_rule(source, RuleContext({"fake": "400"}, resource_params={"fake": "400"}))


def test_date_expressions_use_the_given_now_only():
    now = parse_iso_date("2019-09-23 12:00:00 -05:00")
    assert now is not None
    window = Rule(terms=(DateExpression("in_range", start="2019-09-23 11:00:00 -05:00",
                                        end="2019-09-23 13:00:00 -05:00"),))
    assert evaluate_rule(window, RuleContext({}, now))
    assert not evaluate_rule(window, RuleContext({}, now + 7200))
    assert not evaluate_rule(window, RuleContext({}, None))
    spec = Rule(terms=(DateExpression("date_spec", date_spec=(("hours", "9-16"),)),))
    assert evaluate_rule(spec, RuleContext({}, parse_iso_date("2020-01-01 10:00:00")))
    assert not evaluate_rule(spec, RuleContext({}, parse_iso_date("2020-01-01 20:00:00")))


def test_interval_parsing():
    assert parse_interval_ms("10s") == 10_000
    assert parse_interval_ms("1m") == 60_000
    assert parse_interval_ms("P1DT2H") == 26 * 3_600_000
    assert parse_interval_ms("5000ms") == 5000
    assert parse_interval_ms("30") == 30_000
