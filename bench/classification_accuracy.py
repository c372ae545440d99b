"""Inbound classification against the labelled samples of tests/fixtures/inbound/manifest.toml.

``python bench/classification_accuracy.py [--misses]`` prints the issue's measures as a table
(and, with ``--misses``, every sample the classifier gets wrong and how), and writes
``bench/results/classification_accuracy.json``. Pure CPU, no services.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.unit.inbound.classification.labelled import (  # noqa: E402
    Measure,
    classify,
    load_samples,
    measures,
    mismatches,
)


def print_table(title: str, table: list[Measure]) -> None:
    """The measures that have samples, one line each."""
    shown = [measure for measure in table if measure.total]
    width = max(len(measure.name) for measure in shown)
    print(f"{title:<{width}}  result")
    for measure in shown:
        print(f"{measure.name:<{width}}  {measure.shown()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--misses", action="store_true", help="list every wrong sample")
    parser.add_argument("--by-source", action="store_true", help="one table per sample source")
    args = parser.parse_args()
    samples = load_samples()
    started = time.perf_counter()
    pairs = [(sample, classify(sample)) for sample in samples]
    elapsed = time.perf_counter() - started
    table = measures(pairs)
    print_table("all samples", table)
    print(f"\n{len(samples)} samples in {elapsed * 1000:.0f} ms")
    if args.by_source:
        for source in sorted({sample.source for sample in samples}):
            chosen = [(sample, verdict) for sample, verdict in pairs if sample.source == source]
            print()
            print_table(f"{source} ({len(chosen)} samples)", measures(chosen))
    if args.misses:
        for sample, verdict in pairs:
            wrong = mismatches(sample, verdict)
            if wrong:
                print(f"{sample.file}: {'; '.join(wrong)}  [{verdict.reason}]")
    results = ROOT / "bench" / "results"
    results.mkdir(exist_ok=True)
    (results / "classification_accuracy.json").write_text(
        json.dumps([measure.__dict__ for measure in table], indent=2)
    )


if __name__ == "__main__":
    main()
