"""Pacemaker score arithmetic: INFINITY, parsing, addition, float32 attenuation.

Invariants: scores are ints clamped to [-INFINITY, INFINITY]; -INFINITY absorbs (a ban always
wins, even against +INFINITY); parsing follows C strtoll on the leading integer, so "1.0" is 1
and a value without digits gives the default.
"""

from __future__ import annotations

import re
import struct

INFINITY = 1_000_000
_LEADING_INTEGER = re.compile(r"\s*([+-]?\d+)")


def parse_score(text: str | None, default: int = 0) -> int:
    """Score of a string: INFINITY/+INFINITY/-INFINITY, health colors (0), or an integer."""
    if text is None:
        return default
    value = text.strip()
    lowered = value.lower()
    if lowered in ("infinity", "+infinity"):
        return INFINITY
    if lowered == "-infinity":
        return -INFINITY
    if lowered in ("red", "yellow", "green"):
        return 0
    match = _LEADING_INTEGER.match(value)
    if not match:
        return default
    return clamp(int(match.group(1)))


def clamp(value: int) -> int:
    return max(-INFINITY, min(INFINITY, value))


def add_scores(first: int, second: int) -> int:
    """Pacemaker's score addition: -INFINITY wins, then +INFINITY, else a clamped sum."""
    if first <= -INFINITY or second <= -INFINITY:
        return -INFINITY
    if first >= INFINITY or second >= INFINITY:
        return INFINITY
    return clamp(first + second)


def score_text(score: int) -> str:
    """Readable score as Pacemaker prints it."""
    if score >= INFINITY:
        return "INFINITY"
    if score <= -INFINITY:
        return "-INFINITY"
    return str(score)


def float32(value: float) -> float:
    """Round a Python float to C single precision."""
    return struct.unpack("f", struct.pack("f", value))[0]


def colocation_factor(score: int) -> float:
    """score / INFINITY in single precision, as the C code computes it."""
    return float32(float32(float(score)) / float32(float(INFINITY)))


def attenuate(factor: float, score: int) -> int:
    """round(factor * score) half away from zero, never 0 for a non-zero score."""
    product = float32(factor * float32(float(score)))
    weight = int(product - 0.5) if product < 0 else int(product + 0.5)
    if weight == 0 and score != 0:
        if factor > 0:
            weight = 1
        elif factor < 0:
            weight = -1
    return weight
