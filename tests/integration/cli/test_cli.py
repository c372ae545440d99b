"""The CLI as a user runs it: a subprocess, settings from the environment, output parsed."""

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import get_args

import pytest

from cadence.inbound.classification import Kind
from tests.integration.conftest import REPO

pytestmark = pytest.mark.integration


def _env(tmp_path: Path, env_extra: dict[str, str] | None) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("CADENCE_")},
        "CADENCE_DATABASE_URL": f"sqlite:///{tmp_path / 'cadence.db'}",
        "CADENCE_OUTBOX_DIR": str(tmp_path / "outbox"),
        "CADENCE_CONFIG_DIR": str(REPO / "config"),
        "CADENCE_TEMPLATES_DIR": str(REPO / "templates"),
        "COLUMNS": "200",
        **(env_extra or {}),
    }


def cadence(
    tmp_path: Path, *args: str, env_extra: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cadence", *args],
        cwd=tmp_path,
        env=_env(tmp_path, env_extra),
        text=True,
        capture_output=True,
        timeout=300,
        check=False,
    )


def cadence_process(
    tmp_path: Path, *args: str, env_extra: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "cadence", *args],
        cwd=tmp_path,
        env=_env(tmp_path, env_extra),
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def test_demo_json_reports_a_clean_run(tmp_path: Path) -> None:
    result = cadence(
        tmp_path,
        "demo",
        "--prospects",
        "40",
        "--seed",
        "3",
        "--json",
        "--workspace",
        str(tmp_path / "ws"),
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["prospects"] == 40
    assert summary["enrolled"]["seven-touch"] == 40
    assert summary["touches_after_reply"] == 0
    assert summary["emails_outside_window"] == 0
    assert summary["bumps_not_threaded"] == 0
    assert summary["events"].get("reply", 0) >= 1
    assert summary["emails_sent"] == summary["outbox_files"] > 40
    assert summary["touches_sent_by_step"]["1"] == 40 - summary["events"].get("bounce", 0) * 0
    assert (tmp_path / "ws" / "cadence.db").exists()


def test_user_flow_import_enroll_simulate_reply_audit(tmp_path: Path) -> None:
    csv_file = tmp_path / "mine.csv"
    csv_file.write_text(
        "\ufeffEmail,First Name,Company,Persona,Timezone,Country,Industry\n"
        "dana@hooli.example,Dana,Hooli,ceo,America/Los_Angeles,US,saas\n"
        'eli@pied.example,Eli,"Pied Piper, Inc.",vp_sales,Europe/London,GB,"multi\nline"\n',
        encoding="utf-8",
    )
    assert cadence(tmp_path, "init").returncode == 0
    imported = cadence(tmp_path, "prospects", "import", str(csv_file), "--json")
    assert imported.returncode == 0, imported.stderr
    first_import = json.loads(imported.stdout)
    assert first_import["imported"] == 2
    assert [(r["line"], r["status"]) for r in first_import["rows"]] == [
        (2, "imported"),
        (3, "imported"),
    ]
    again = cadence(tmp_path, "prospects", "import", str(csv_file), "--json")
    assert json.loads(again.stdout)["unchanged"] == 2
    enrolled = cadence(tmp_path, "enroll", "seven-touch", "--csv", str(csv_file), "--json")
    assert enrolled.returncode == 0, enrolled.stderr
    twice = cadence(tmp_path, "enroll", "seven-touch", "--email", "dana@hooli.example")
    assert twice.returncode == 1
    assert "already active in seven-touch; not enrolled twice" in twice.stderr
    # Real time now, then a simulated week: nothing here depends on today's date.
    base = datetime.now(UTC).replace(microsecond=0)
    week, later = (base + timedelta(days=8)).isoformat(), (base + timedelta(days=80)).isoformat()
    ran = cadence(tmp_path, "run", "--simulate", "--until", week)
    assert ran.returncode == 0, ran.stderr
    replied = cadence(tmp_path, "event", "reply", "dana@hooli.example", "--at", week)
    assert replied.returncode == 0, replied.stderr
    cadence(tmp_path, "run", "--simulate", "--from", week, "--until", later)
    audit = cadence(tmp_path, "audit", "--format", "json")
    assert audit.returncode == 0, audit.stderr
    rows = json.loads(audit.stdout)
    required = {
        "prospect",
        "cadence",
        "step",
        "channel",
        "template",
        "template_version",
        "status",
        "due_at",
        "sent_at",
        "message_id",
        "reason",
    }
    assert all(required <= row.keys() for row in rows)
    dana = [r for r in rows if r["prospect"] == "dana@hooli.example"]
    assert [r["status"] for r in dana][:1] == ["sent"]
    assert [r["status"] for r in dana][-1] == "cancelled"
    eli = [r for r in rows if r["prospect"] == "eli@pied.example" and r["cadence"] == "seven-touch"]
    assert [r["status"] for r in eli] == ["sent"] * 7
    assert len({(r["cadence"], r["step"]) for r in eli}) == 7
    report = json.loads(cadence(tmp_path, "report", "--format", "json").stdout)
    seven = next(c for c in report["cadences"] if c["cadence"] == "seven-touch")
    assert (seven["enrolled"], seven["replies"], seven["reply_rate"]) == (2, 1, 0.5)
    assert cadence(tmp_path, "report").returncode == 0
    csv_out = cadence(tmp_path, "audit", "--format", "csv", "--email", "eli@pied.example")
    assert csv_out.stdout.splitlines()[0].startswith("prospect,cadence,step")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("name,company\nx,y\n", "no 'email' column"),
        ("email,timezone\nok@x.example,UTC\nnot-an-email,UTC\n", "3: not-an-email"),
        ("email,timezone\nok@x.example,Mars/Base\n", "not an IANA time zone"),
        ("email\nsame@x.example\nSAME@x.example\n", "duplicate of line 2"),
        ("", "empty"),
        ('email,first_name\n"unterminated@x.example,"Ann\n', "rejected"),
    ],
)
def test_bad_csv_is_rejected_and_changes_nothing(
    tmp_path: Path, content: str, message: str
) -> None:
    csv_file = tmp_path / "bad.csv"
    csv_file.write_text(content, encoding="utf-8")
    assert cadence(tmp_path, "init").returncode == 0
    result = cadence(tmp_path, "prospects", "import", str(csv_file))
    assert result.returncode == 1
    assert message in result.stderr
    audit = cadence(tmp_path, "audit", "--format", "json")
    assert json.loads(audit.stdout) == []


def test_bad_arguments_give_clear_errors(tmp_path: Path) -> None:
    before_init = cadence(tmp_path, "audit")
    assert before_init.returncode == 1
    assert "run `cadence init`" in before_init.stderr
    assert cadence(tmp_path, "init").returncode == 0
    assert cadence(tmp_path, "init").returncode == 0  # safe to repeat
    unknown = cadence(tmp_path, "enroll", "no-such-cadence", "--email", "a@b.example")
    assert unknown.returncode == 1
    assert "no cadence named 'no-such-cadence'" in unknown.stderr
    bad_time = cadence(tmp_path, "run", "--simulate", "--until", "next tuesday")
    assert bad_time.returncode == 2
    assert "ISO 8601" in bad_time.stderr
    nobody = cadence(tmp_path, "event", "reply", "ghost@x.example")
    assert nobody.returncode == 1
    assert "no prospect with email" in nobody.stderr


def test_inbound_json_lines_follow_the_contract(tmp_path: Path) -> None:
    fixtures = sorted((REPO / "tests" / "fixtures" / "inbound").glob("*.rfc822"))
    assert len(fixtures) > 50
    assert cadence(tmp_path, "init").returncode == 0
    result = cadence(tmp_path, "inbound", "--dry-run", "--json", *map(str, fixtures))
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["file"] for line in lines] == [str(f) for f in fixtures]
    keys = {"file", "kind", "bounce", "bounce_reason", "addresses", "prospect"}
    keys |= {"return_date", "reply_text"}
    assert all(set(line) == keys for line in lines)
    kinds = {line["kind"] for line in lines}
    assert kinds == set(get_args(Kind))  # every kind the contract names
    assert all(line["bounce"] in ("hard", "soft") for line in lines if line["kind"] == "bounce")
    assert all((line["bounce_reason"] is None) == (line["kind"] != "bounce") for line in lines)
    audit = cadence(tmp_path, "audit", "--events", "--format", "json")
    assert json.loads(audit.stdout)["events"] == []  # --dry-run changed nothing
    missing = cadence(tmp_path, "inbound", str(tmp_path / "nope.eml"))
    assert missing.returncode == 1


def test_run_in_real_time_sends_due_touches_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    import shutil
    import signal
    import time

    config = tmp_path / "cfg"
    shutil.copytree(REPO / "config", config)
    seven = config / "cadences" / "seven-touch.toml"
    week = '"mon", "tue", "wed", "thu", "fri"'
    text = (
        seven.read_text()
        .replace(
            f'start = "07:30", end = "09:30", days = [{week}]',
            f'start = "00:00", end = "23:59", days = [{week}, "sat", "sun"]',
        )
        .replace("business_days = true", "business_days = false")
    )
    assert text != seven.read_text()
    seven.write_text(text)
    env_extra = {"CADENCE_CONFIG_DIR": str(config), "CADENCE_SCHEDULER_INTERVAL_SECONDS": "0.3"}
    csv_file = tmp_path / "p.csv"
    csv_file.write_text(
        "email,timezone\n" + "".join(f"rt{i}@now.example,UTC\n" for i in range(3)),
        encoding="utf-8",
    )
    for args in (
        ("init",),
        ("prospects", "import", str(csv_file)),
        ("enroll", "seven-touch", "--csv", str(csv_file)),
    ):
        done = cadence(tmp_path, *args, env_extra=env_extra)
        assert done.returncode == 0, done.stderr
    runner = cadence_process(tmp_path, "run", env_extra=env_extra)
    try:
        deadline = time.monotonic() + 60
        sent = 0
        while time.monotonic() < deadline and sent < 3:
            time.sleep(0.5)
            rows = json.loads(
                cadence(tmp_path, "audit", "--format", "json", env_extra=env_extra).stdout
            )
            sent = sum(1 for r in rows if r["status"] == "sent")
        assert sent == 3
    finally:
        runner.send_signal(signal.SIGTERM)
        _, err = runner.communicate(timeout=60)
    assert runner.returncode == 0, err
    assert "finishing the touches already claimed" in err
    status = json.loads(cadence(tmp_path, "status", "--json", env_extra=env_extra).stdout)
    assert (status["queued"], status["sending"], status["unconfirmed"]) == (0, 0, 0)
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 3


def test_tasks_done_closes_several_tasks_or_none(tmp_path: Path) -> None:
    """`cadence tasks done` takes one or more ids: all are closed, or none when one of them
    is unknown or already done (the tasks list says so after each try)."""
    csv_file = tmp_path / "three.csv"
    csv_file.write_text(
        "email,first_name,company,persona,timezone,country\n"
        "ann@acme.example,Ann,Acme,ceo,Europe/London,GB\n"
        "bo@globex.example,Bo,Globex,ceo,Europe/London,GB\n"
        "cy@initech.example,Cy,Initech,ceo,Europe/London,GB\n",
        encoding="utf-8",
    )
    assert cadence(tmp_path, "init").returncode == 0
    assert cadence(tmp_path, "prospects", "import", str(csv_file)).returncode == 0
    assert cadence(tmp_path, "enroll", "seven-touch", "--csv", str(csv_file)).returncode == 0
    until = (datetime.now(UTC) + timedelta(days=14)).replace(microsecond=0).isoformat()
    ran = cadence(tmp_path, "run", "--simulate", "--until", until)
    assert ran.returncode == 0, ran.stderr

    def open_ids() -> list[int]:
        listed = cadence(tmp_path, "tasks", "list", "--json")
        assert listed.returncode == 0, listed.stderr
        return sorted(t["id"] for t in json.loads(listed.stdout))

    first, second, third = open_ids()[:3]
    unknown = cadence(tmp_path, "tasks", "done", str(first), "999999", "--outcome", "connected")
    assert unknown.returncode == 1
    assert "no task 999999" in unknown.stderr
    assert first in open_ids()  # nothing changed
    done = cadence(tmp_path, "tasks", "done", str(first), str(second), "--outcome", "skipped")
    assert done.returncode == 0, done.stderr
    assert f"task {first}: skipped" in done.stderr and f"task {second}: skipped" in done.stderr
    assert first not in open_ids() and second not in open_ids()
    again = cadence(tmp_path, "tasks", "done", str(third), str(first), "--outcome", "voicemail")
    assert again.returncode == 1
    assert f"task {first} is already done (skipped)" in again.stderr
    assert third in open_ids()
    not_a_number = cadence(tmp_path, "tasks", "done", "next", "--outcome", "voicemail")
    assert not_a_number.returncode == 2
    skipped = [
        r
        for r in json.loads(cadence(tmp_path, "audit", "--format", "json").stdout)
        if r["step"] == 3 and r["status"] == "skipped"
    ]
    assert len(skipped) == 2
