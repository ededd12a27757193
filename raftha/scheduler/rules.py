"""Rule evaluation: node-attribute expressions, date expressions and nested rules.

Role: decide whether a `Rule` holds for a node at a given "now" (seconds since the epoch,
an input), with Pacemaker's comparison semantics: typed comparisons (integer, number,
version, string) with fallback to case-insensitive string comparison when a value does not
parse; `ne` holds for an undefined attribute; ISO 8601 dates and date_spec ranges.

Invariant: pure; "now" of None means "unknown" and date expressions are then false.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from raftha.model.config import (
    DateExpression,
    Expression,
    OperationExpression,
    ResourceExpression,
    Rule,
)


@dataclass(frozen=True)
class RuleContext:
    """What a rule may look at: node attributes, "now", and resource params/meta."""

    node_attributes: Mapping[str, str] = field(default_factory=dict)
    now: int | None = None
    resource_params: Mapping[str, str] = field(default_factory=dict)
    resource_meta: Mapping[str, str] = field(default_factory=dict)
    agent: tuple[str | None, str | None, str | None] | None = None
    operation: tuple[str, int] | None = None


def evaluate_rule(rule: Rule, context: RuleContext) -> bool:
    results = (evaluate_term(term, context) for term in rule.terms)
    if not rule.terms:
        return True
    if rule.boolean_op.lower() == "or":
        return any(results)
    return all(results)


def evaluate_term(term, context: RuleContext) -> bool:
    if isinstance(term, Rule):
        return evaluate_rule(term, context)
    if isinstance(term, Expression):
        return evaluate_expression(term, context)
    if isinstance(term, DateExpression):
        return evaluate_date_expression(term, context.now)
    if isinstance(term, ResourceExpression):
        if context.agent is None:
            return True
        agent_class, provider, agent_type = context.agent
        return ((term.agent_class is None or term.agent_class == agent_class)
                and (term.provider is None or term.provider == provider)
                and (term.agent_type is None or term.agent_type == agent_type))
    if isinstance(term, OperationExpression):
        if context.operation is None:
            return True
        name, interval_ms = context.operation
        if term.name != name:
            return False
        return term.interval is None or parse_interval_ms(term.interval) == interval_ms
    return False


def _parse_int(text: str) -> int | None:
    """Leading integer as C strtoll reads it ("3.6" is 3); None without digits."""
    match = re.match(r"\s*([+-]?\d+)", text)
    return int(match.group(1)) if match else None


def _parse_number(text: str) -> float | None:
    try:
        return float(text.strip())
    except ValueError:
        return None


def _version_key(text: str) -> list[int]:
    return [int(part) if part.isdigit() else 0 for part in re.split(r"[.\-]", text.strip())]


def compare_values(left: str, right: str, value_type: str | None) -> int:
    """-1/0/1 comparison of two attribute values with Pacemaker's typing rules."""
    kind = (value_type or "").lower()
    if kind == "":
        kind = "number" if ("." in left or "." in right) else "integer"
        if _parse_number(left) is None or _parse_number(right) is None:
            kind = "string"
    if kind == "integer":
        first, second = _parse_int(left), _parse_int(right)
        if first is None or second is None:
            kind = "string"
        else:
            return (first > second) - (first < second)
    if kind == "number":
        first_number, second_number = _parse_number(left), _parse_number(right)
        if first_number is None or second_number is None:
            kind = "string"
        else:
            return (first_number > second_number) - (first_number < second_number)
    if kind == "version":
        first_version, second_version = _version_key(left), _version_key(right)
        return (first_version > second_version) - (first_version < second_version)
    first_text, second_text = left.lower(), right.lower()
    return (first_text > second_text) - (first_text < second_text)


def evaluate_expression(expression: Expression, context: RuleContext) -> bool:
    operation = expression.operation.lower()
    actual = context.node_attributes.get(expression.attribute)
    expected = expression.value
    source = (expression.value_source or "literal").lower()
    if source == "param" and expected is not None:
        expected = context.resource_params.get(expected)
    elif source == "meta" and expected is not None:
        expected = context.resource_meta.get(expected)
    if operation == "defined":
        return actual is not None
    if operation == "not_defined":
        return actual is None
    if operation == "eq":
        if actual is None or expected is None:
            return actual is None and expected is None
        return compare_values(actual, expected, expression.value_type) == 0
    if operation == "ne":
        if actual is None or expected is None:
            return not (actual is None and expected is None)
        return compare_values(actual, expected, expression.value_type) != 0
    if actual is None or expected is None:
        return False
    result = compare_values(actual, expected, expression.value_type)
    return {"lt": result < 0, "gt": result > 0, "lte": result <= 0,
            "gte": result >= 0}.get(operation, False)


# ---------------------------------------------------------------- dates

_DATE_FORMATS = re.compile(
    r"^\s*(\d{4})(?:-(\d{2})-(\d{2})|-(\d{3}))?"
    r"(?:[ T](\d{1,2})(?::(\d{2}))?(?::(\d{2}))?(?:\.\d+)?)?"
    r"\s*(Z|[+-]\d{2}(?::?\d{2})?)?\s*$"
)


def parse_iso_date(text: str) -> int | None:
    """Seconds since the epoch of an ISO 8601 date ("2019-09-20 15:10:52 +00:00", "2005-001")."""
    match = _DATE_FORMATS.match(text)
    if not match:
        return None
    year = int(match.group(1))
    if match.group(4):
        base = datetime.datetime(year, 1, 1) + datetime.timedelta(days=int(match.group(4)) - 1)
    else:
        base = datetime.datetime(year, int(match.group(2) or 1), int(match.group(3) or 1))
    base = base.replace(hour=int(match.group(5) or 0), minute=int(match.group(6) or 0),
                        second=int(match.group(7) or 0))
    offset_seconds = 0
    zone = match.group(8)
    if zone and zone != "Z":
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        offset_seconds = sign * (int(digits[:2]) * 3600 + int(digits[2:4] or 0) * 60)
    epoch = datetime.datetime(1970, 1, 1)
    return int((base - epoch).total_seconds()) - offset_seconds


def _add_duration(start: int, duration: tuple[tuple[str, str], ...]) -> int:
    moment = datetime.datetime(1970, 1, 1) + datetime.timedelta(seconds=start)
    values = {key: int(value) for key, value in duration if re.fullmatch(r"-?\d+", value)}
    months = values.get("months", 0) + 12 * values.get("years", 0)
    if months:
        month_index = moment.month - 1 + months
        year = moment.year + month_index // 12
        month = month_index % 12 + 1
        day = min(moment.day, [31, 29 if year % 4 == 0 and (year % 100 or year % 400 == 0)
                               else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1])
        moment = moment.replace(year=year, month=month, day=day)
    moment += datetime.timedelta(weeks=values.get("weeks", 0), days=values.get("days", 0),
                                 hours=values.get("hours", 0), minutes=values.get("minutes", 0),
                                 seconds=values.get("seconds", 0))
    return int((moment - datetime.datetime(1970, 1, 1)).total_seconds())


def _in_range_spec(value: int, spec: str) -> bool:
    spec = spec.strip()
    if "-" in spec[1:]:
        low, _, high = spec.partition("-")
        return int(low) <= value <= int(high)
    return re.fullmatch(r"\d+", spec) is not None and value == int(spec)


def _date_spec_holds(now: int, spec: tuple[tuple[str, str], ...]) -> bool:
    moment = datetime.datetime(1970, 1, 1) + datetime.timedelta(seconds=now)
    iso_year, iso_week, iso_weekday = moment.isocalendar()
    fields = {
        "seconds": moment.second, "minutes": moment.minute, "hours": moment.hour,
        "monthdays": moment.day, "weekdays": iso_weekday, "yeardays": moment.timetuple().tm_yday,
        "months": moment.month, "weeks": iso_week, "years": moment.year,
        "weekyears": iso_year,
    }
    for key, value in spec:
        if key in fields and not _in_range_spec(fields[key], value):
            return False
    return True


def evaluate_date_expression(expression: DateExpression, now: int | None) -> bool:
    if now is None:
        return False
    operation = expression.operation.lower()
    start = parse_iso_date(expression.start) if expression.start else None
    end = parse_iso_date(expression.end) if expression.end else None
    if operation == "gt":
        return start is not None and now > start
    if operation == "lt":
        return end is not None and now < end
    if operation == "date_spec":
        return _date_spec_holds(now, expression.date_spec)
    if operation == "in_range":
        if end is None and start is not None and expression.duration:
            end = _add_duration(start, expression.duration)
        if start is not None and now < start:
            return False
        if end is not None and now > end:
            return False
        return start is not None or end is not None
    return False


_INTERVAL_UNITS_MS = {"ms": 1, "msec": 1, "s": 1000, "sec": 1000, "": 1000, "m": 60_000,
                      "min": 60_000, "h": 3_600_000, "hr": 3_600_000}


def parse_interval_ms(text: str | None) -> int:
    """Milliseconds of an interval like "10s", "1m", "5000ms", "P1D" or a plain number (s)."""
    if text is None:
        return 0
    value = text.strip().lower()
    match = re.fullmatch(r"(\d+)\s*([a-z]*)", value)
    if match and match.group(2) in _INTERVAL_UNITS_MS:
        return int(match.group(1)) * _INTERVAL_UNITS_MS[match.group(2)]
    iso = re.fullmatch(r"p(?:(\d+)d)?(?:t(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?)?", value)
    if iso:
        days, hours, minutes, seconds = (int(part or 0) for part in iso.groups())
        return ((days * 24 + hours) * 60 + minutes) * 60_000 + seconds * 1000
    return 0
