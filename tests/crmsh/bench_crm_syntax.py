"""Benchmark: parse, render and verify a large crm configuration; prints the numbers.

Run: python3 tests/crmsh/bench_crm_syntax.py [primitives]   (a script, not a test)
"""

from __future__ import annotations

import sys
import time

from raftha.crmsh import parse_configuration, render_configuration, verify


def synthetic_text(count: int) -> str:
    lines = []
    for index in range(count):
        lines.append(f"primitive r{index} ocf:pacemaker:Dummy \\\n"
                     f"    params state=\"/tmp/r{index} state\" \\\n"
                     f"    op monitor interval=10s timeout=20s")
    for index in range(0, count - 1, 2):
        lines.append(f"colocation c{index} inf: r{index} r{index + 1}")
        lines.append(f"order o{index} Mandatory: r{index} r{index + 1}")
        lines.append(f"location l{index} r{index} rule 100: #uname eq node{index % 5} "
                     f"and pingd gt 0")
    return "\n".join(lines) + "\n"


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    text = synthetic_text(count)
    started = time.perf_counter()
    configuration = parse_configuration(text)
    parsed = time.perf_counter()
    rendered_text = render_configuration(configuration)
    rendered = time.perf_counter()
    problems = verify(configuration)
    verified = time.perf_counter()
    assert parse_configuration(rendered_text) == configuration
    print(f"primitives={count} characters={len(text)} parse_s={parsed - started:.3f} "
          f"render_s={rendered - parsed:.3f} verify_s={verified - rendered:.3f} "
          f"problems={len(problems)}")


if __name__ == "__main__":
    main()
