"""The demo's workspace: a fresh folder with the shipped config and templates, a team staffed
for the prospects it will enroll, and settings that point everything inside it."""

import shutil
import tempfile
import tomllib
from pathlib import Path

from cadence.core.errors import InputError
from cadence.demo.sample_prospects import FIRST_NAMES, LAST_NAMES
from cadence.runtime.settings import Settings, load_settings
from cadence.runtime.shipped_files import shipped_root

#: Prospects one demo SDR works at a time: enrolled together, their first emails fit one
#: mailbox's daily cap (200 in the shipped team), as a real team would plan it.
PROSPECTS_PER_SDR = 150
_SDR_NAMES = [f"{first} {last}" for last in LAST_NAMES for first in FIRST_NAMES if first]

#: Touches per worker message in the demo (production's default is 20). One worker thread,
#: and the demo's replies land between stops, never mid-batch: the reply-to-halt latency that
#: keeps production batches small does not arise, and a stop's touches go in one or two
#: messages.
DEMO_BATCH_SIZE = 100


def make_workspace(workspace: Path | None) -> Path:
    """``workspace``, which must be empty or missing, or a new temporary folder; raises
    :class:`InputError` for a folder with anything in it, so no user file is mixed in."""
    root = Path(tempfile.mkdtemp(prefix="cadence-demo-")) if workspace is None else workspace
    if workspace is not None:
        if workspace.exists() and any(workspace.iterdir()):
            raise InputError(f"{workspace} is not empty; the demo needs a fresh folder")
        workspace.mkdir(parents=True, exist_ok=True)
    source = shipped_root()
    shutil.copytree(source / "config", root / "config")
    shutil.copytree(source / "templates", root / "templates")
    return root


def staff_team(team_file: Path, prospects: int) -> int:
    """Add SDRs to the workspace's team until each owns at most :data:`PROSPECTS_PER_SDR`;
    the number of SDRs. Without it a large demo is a backlog behind three mailboxes' caps,
    re-planned daily, and shows nothing of a cadence."""
    text = team_file.read_text(encoding="utf-8")
    team = tomllib.loads(text)
    shipped, domain = len(team["sdr"]), team["company"]["domain"]
    needed = -(-prospects // PROSPECTS_PER_SDR)
    added = []
    for n in range(shipped + 1, needed + 1):
        added.append(
            f'\n[[sdr]]\nname = "sdr{n:03d}"\n'
            f'full_name = "{_SDR_NAMES[n % len(_SDR_NAMES)]}"\n'
            f'email = "sdr{n:03d}@{domain}"\n'
            'title = "Sales Development Representative"\n'
        )
    if added:
        team_file.write_text(text + "".join(added), encoding="utf-8")
    return max(shipped, needed)


def workspace_settings(root: Path) -> Settings:
    """Embedded defaults inside ``root``: a SQLite file, the in-process broker, a file outbox."""
    return load_settings(
        database_url=f"sqlite:///{root / 'cadence.db'}",
        redis_url=None,
        smtp_url=None,
        outbox_dir=root / "outbox",
        config_dir=root / "config",
        templates_dir=root / "templates",
        delivery_batch_size=DEMO_BATCH_SIZE,
    )
