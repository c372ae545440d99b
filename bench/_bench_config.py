"""The Cadence a benchmark runs: the shipped templates and config with one 24/7 two-step
cadence (``bench``) and send limits out of the way, and the settings that point at them."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

#: Unsubscribe links must not point at localhost when SMTP is configured (build_context).
PUBLIC_URL = "https://cadence.bench.example"
OWNERS = ("alex", "priya", "jonas")

BENCH_CADENCE = """\
name = "bench"
description = "Benchmark cadence: open around the clock, every step due at once"
business_days = false
on_reply = "halt"

[send_window]
start = "00:00"
end = "23:59"
days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]

[[steps]]
template = "ceo/intro"
delay = "0d"

[[steps]]
template = "checkin/last"
delay = "1d"
"""

BENCH_TEAM = """\
default_owner = "alex"
default_timezone = "UTC"

[company]
name = "Brightwave"
domain = "brightwave.example"
postal_address = "Brightwave Inc., 500 Market Street, Suite 300, San Francisco, CA 94105, USA"
"""


def write_config(root: Path) -> dict[str, str]:
    """Shipped templates and config, with one 24/7 two-step cadence and send limits raised
    out of the way (the default 200 a day per mailbox would stop a 20,000-touch run)."""
    from cadence.runtime.shipped_files import shipped_root

    source = shipped_root()
    config = root / "config"
    templates = root / "templates"
    shutil.copytree(source / "config", config)
    shutil.copytree(source / "templates", templates)
    for old in (config / "cadences").glob("*.toml"):
        old.unlink()
    (config / "cadences" / "bench.toml").write_text(BENCH_CADENCE, encoding="utf-8")
    team = BENCH_TEAM
    for name in OWNERS:
        team += (
            f'\n[[sdr]]\nname = "{name}"\nfull_name = "{name.title()} Bench"\n'
            f'email = "{name}@brightwave.example"\ndaily_cap = 100000000\nper_minute = 100000000\n'
        )
    (config / "team.toml").write_text(team, encoding="utf-8")
    return {"config_dir": str(config), "templates_dir": str(templates)}


def cadence_env(
    *, database_url: str, redis_url: str | None, root: Path, smtp_url: str | None = None
) -> dict[str, str]:
    """The ``CADENCE_*`` environment of a run in ``root`` (its config written on first use),
    for the processes it starts and, through :func:`context_from_env`, for itself."""
    dirs = (
        write_config(root)
        if not (root / "config").exists()
        else {
            "config_dir": str(root / "config"),
            "templates_dir": str(root / "templates"),
        }
    )
    env = {
        "CADENCE_DATABASE_URL": database_url,
        "CADENCE_CONFIG_DIR": dirs["config_dir"],
        "CADENCE_TEMPLATES_DIR": dirs["templates_dir"],
        "CADENCE_OUTBOX_DIR": str(root / "outbox"),
        "CADENCE_PUBLIC_URL": PUBLIC_URL,
        "CADENCE_SCHEDULER_INTERVAL_SECONDS": "1",
    }
    if redis_url:
        env["CADENCE_REDIS_URL"] = redis_url
    if smtp_url:
        env["CADENCE_SMTP_URL"] = smtp_url
    return env


def context_from_env(env: dict[str, str], **kwargs: Any) -> Any:
    """An AppContext in this process with the same settings as the processes given ``env``."""
    from cadence.runtime.context import build_context
    from cadence.runtime.settings import load_settings

    overrides = {k.removeprefix("CADENCE_").lower(): v for k, v in env.items()}
    return build_context(load_settings(**overrides), **kwargs)
