"""Where the shipped config/ and templates/ are: inside the wheel, or beside the source."""

from pathlib import Path


def shipped_root() -> Path:
    """The folder holding the shipped ``config`` and ``templates``.

    A wheel carries them as ``cadence/_defaults``; an editable install finds them at the
    repository root.
    """
    packaged = Path(__file__).parent.parent / "_defaults"
    if (packaged / "config").is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent.parent
