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

from tests.unit.classification.labelled import (  # noqa: E402
    classify,
    load_samples,
    measures,
    mismatches,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--misses", action="store_true", help="list every wrong sample")
    args = parser.parse_args()
    samples = load_samples()
    started = time.perf_counter()
    pairs = [(sample, classify(sample)) for sample in samples]
    elapsed = time.perf_counter() - started
    table = measures(pairs)
    width = max(len(measure.name) for measure in table)
    print(f"{'measure':<{width}}  result")
    for measure in table:
        print(f"{measure.name:<{width}}  {measure.shown()}")
    print(f"\n{len(samples)} samples in {elapsed * 1000:.0f} ms")
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
