"""`raftha simulate` and `raftha explain`: the scheduler over a Pacemaker CIB file.

Role: the file-reading edge of the pure scheduler: reads the CIB, takes "now" from the CIB's
execution-date or the wall clock, and renders the plan as text or JSON. Also the edge of the
conformance runner (`load_corpus`, `conformance_main`).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

MAX_CIB_FILE_BYTES = 32 * 1024 * 1024


def read_text_file(path: Path) -> str:
    if path.stat().st_size > MAX_CIB_FILE_BYTES:
        raise ValueError(f"{path} is larger than {MAX_CIB_FILE_BYTES} bytes")
    return path.read_text(encoding="utf-8")


def load_corpus(directory: Path) -> tuple[dict[str, tuple[str, str]], str]:
    """Cases (name -> (xml, expected json)) and the index text of a corpus directory."""
    cases: dict[str, tuple[str, str]] = {}
    for expected_path in sorted((directory / "expected").glob("*.json")):
        name = expected_path.stem
        xml_path = directory / "xml" / f"{name}.xml"
        if xml_path.exists():
            cases[name] = (read_text_file(xml_path), read_text_file(expected_path))
    index_path = directory / "index.tsv"
    index_text = index_path.read_text(encoding="utf-8") if index_path.exists() else "name\n"
    return cases, index_text


def conformance_main(argv: list[str] | None = None) -> int:
    from raftha.scheduler.conformance import run_corpus

    arguments = list(sys.argv[1:] if argv is None else argv)
    verbose = "-v" in arguments
    arguments = [a for a in arguments if a != "-v"]
    directory = Path(arguments[0] if arguments else "tests/pacemaker-cases")
    cases, index_text = load_corpus(directory)
    report = run_corpus(cases, index_text, now=int(time.time()))
    print(report.render())
    failing = report.failing()
    if failing:
        print(f"\nfailing cases ({len(failing)}):")
        for result in failing:
            detail = result.error or "; ".join(result.differences)
            print(f"  {result.name}: {detail if verbose else detail[:160]}")
    return 0
