"""Fuzzing helpers: run a hypothesis property a set number of times, count the inputs
tried, bound each input's time (a hang fails the test), and mutate corpus bytes."""

from __future__ import annotations

import signal
from collections.abc import Callable
from contextlib import contextmanager

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

SHORT_EXAMPLES = 120      # every default test run (CI)
LONG_EXAMPLES = 4000      # @pytest.mark.slow runs
INPUT_TIME_LIMIT_S = 20   # generous: two shared cores; a real hang takes forever


class InputHung(Exception):
    pass


@contextmanager
def time_limit(seconds: int):
    def expired(signum, frame):
        raise InputHung(f"one input took more than {seconds} s")
    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def run_fuzz(name: str, strategy: st.SearchStrategy, check: Callable, examples: int) -> int:
    """Runs `check` over `examples` inputs drawn from `strategy`; returns how many ran."""
    tried = [0]

    @settings(max_examples=examples, deadline=None, database=None, derandomize=False,
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def property_holds(value):
        tried[0] += 1
        with time_limit(INPUT_TIME_LIMIT_S):
            check(value)

    property_holds()
    print(f"fuzz {name}: {tried[0]} inputs tried")
    return tried[0]


EDIT = st.tuples(st.sampled_from(["flip", "insert", "delete", "duplicate", "truncate"]),
                 st.floats(min_value=0, max_value=1, allow_nan=False),
                 st.binary(min_size=1, max_size=16))


def mutate(data: bytes, edits: list[tuple[str, float, bytes]]) -> bytes:
    """`data` with a few byte-level edits (the classic mutation operators)."""
    result = bytearray(data)
    for operation, where, payload in edits:
        position = int(where * len(result)) if result else 0
        position = min(position, max(len(result) - 1, 0))
        if operation == "flip" and result:
            result[position] ^= payload[0] or 1
        elif operation == "insert":
            result[position:position] = payload
        elif operation == "delete":
            del result[position:position + len(payload)]
        elif operation == "duplicate":
            result[position:position] = result[position:position + 64 * len(payload)]
        elif operation == "truncate":
            del result[position:]
    return bytes(result)


def mutated(corpus: list[bytes]) -> st.SearchStrategy[bytes]:
    return st.builds(mutate, st.sampled_from(corpus), st.lists(EDIT, min_size=1, max_size=4))


def mutated_text(corpus: list[str]) -> st.SearchStrategy[str]:
    return mutated([item.encode() for item in corpus]).map(
        lambda data: data.decode("utf-8", "replace"))


# Any value msgpack or JSON can carry: where type confusion bugs hide.
SCALARS = (st.none() | st.booleans() | st.integers(min_value=-2**63, max_value=2**64 - 1)
           | st.floats(allow_nan=True) | st.text(max_size=40) | st.binary(max_size=40))
PLAIN_VALUES = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=5)
    | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=20,
)
JSON_SCALARS = (st.none() | st.booleans() | st.integers(min_value=-2**70, max_value=2**70)
                | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=40))
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda children: st.lists(children, max_size=5)
    | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=20,
)
