"""The demo staffs its workspace team for the prospects it enrolls, as a real team would."""

import shutil
from pathlib import Path

import pytest

from cadence.authoring.config_files import load_team
from cadence.demo.workspace import PROSPECTS_PER_SDR, staff_team
from cadence.runtime.shipped_files import shipped_root


@pytest.fixture
def config(tmp_path: Path) -> Path:
    shutil.copytree(shipped_root() / "config", tmp_path / "config")
    return tmp_path / "config"


def test_small_demo_keeps_the_shipped_team_untouched(config: Path) -> None:
    before = (config / "team.toml").read_bytes()
    assert staff_team(config / "team.toml", 200) == 3
    assert (config / "team.toml").read_bytes() == before


@pytest.mark.parametrize("prospects", [451, 1000, 10_000])
def test_large_demo_adds_valid_sdrs_until_each_owns_at_most_the_limit(
    config: Path, prospects: int
) -> None:
    count = staff_team(config / "team.toml", prospects)
    team = load_team(config)
    assert len(team.sdr) == count
    assert prospects / count <= PROSPECTS_PER_SDR < prospects / (count - 1)
    assert len({s.name for s in team.sdr}) == len({str(s.email) for s in team.sdr}) == count
    assert {s.name for s in team.sdr} >= {"alex", "priya", "jonas"}
    assert all(str(s.email).endswith("@brightwave.example") for s in team.sdr)
