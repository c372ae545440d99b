"""Every labelled sample under tests/fixtures/inbound, against its label in manifest.toml.

A sample whose label carries ``known_miss`` is expected to fail (strictly: when it starts to
pass, its ``known_miss`` goes). The issue's never-measures hold for every sample, misses
included: no challenge, reply or soft bounce is ever taken for a hard bounce.
"""

from __future__ import annotations

import pytest

from cadence.inbound.classification.bounce_reasons import REJECTS_SENDER
from tests.unit.inbound.classification.labelled import (
    FIXTURES,
    Sample,
    classify,
    load_samples,
    mismatches,
)

SAMPLES = load_samples()


def test_every_sample_on_disk_is_labelled_once() -> None:
    on_disk = {
        str(path.relative_to(FIXTURES))
        for path in FIXTURES.rglob("*")
        if path.suffix in (".eml", ".rfc822")
    }
    labelled = [sample.file for sample in SAMPLES]
    assert sorted(labelled) == sorted(set(labelled))
    assert on_disk == set(labelled)


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda sample: sample.file)
def test_sample_matches_its_label(sample: Sample) -> None:
    wrong = mismatches(sample, classify(sample))
    if sample.known_miss:
        assert wrong, f"passes now: drop its known_miss ({sample.known_miss})"
        pytest.xfail(f"{sample.known_miss}: {wrong}")
    assert wrong == []


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda sample: sample.file)
def test_hard_only_when_the_label_says_the_address_is_bad(sample: Sample) -> None:
    verdict = classify(sample)
    if verdict.bounce == "hard":
        assert sample.kind == "bounce"
        assert sample.bounce in ("hard", None)


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda sample: sample.file)
def test_sender_rejections_are_flagged_and_never_hard(sample: Sample) -> None:
    verdict = classify(sample)
    assert verdict.rejects_sender == (verdict.bounce_reason in REJECTS_SENDER)
    if verdict.rejects_sender:
        assert verdict.bounce == "soft"
    assert (verdict.bounce_reason is None) == (verdict.kind != "bounce")
