"""``cadence mailboxes`` as an operator runs it, on a real Dovecot and a real SMTP server:
a pass that halts a reply, health that shows a refused login, and a check that says what
to fix without printing a secret."""

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.integration.cli.test_cli import cadence
from tests.integration.smtp_sink import smtp_sink

from .conftest import PASSWORD_ENV, World

pytestmark = pytest.mark.integration


def _listed(world: World, tmp_path: Path) -> dict[str, object]:
    result = cadence(tmp_path, "mailboxes", "list", "--json", env_extra=world.cli_env())
    assert result.returncode == 0, result.stderr
    [alex] = json.loads(result.stdout)
    assert isinstance(alex, dict)
    return alex


def test_sync_once_halts_a_reply_and_list_shows_the_sync(
    make_world: Callable[..., World], tmp_path: Path
) -> None:
    world = make_world()
    world.append(world.reply("ann@acme.example"), at=datetime.now(UTC))

    result = cadence(tmp_path, "mailboxes", "sync", "--once", env_extra=world.cli_env())

    assert result.returncode == 0, result.stderr
    assert "alex: INBOX: 1 stored" in result.stdout
    assert world.state("ann@acme.example") == "halted"
    alex = _listed(world, tmp_path)
    assert (alex["name"], alex["address"], alex["health"]) == (
        "alex",
        "alex@brightwave.example",
        "ok",
    )
    assert alex["last_sync"] is not None and alex["sends_today"] == 0


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_wrong_password_marks_the_mailbox_unhealthy_until_it_works_again(
    make_world: Callable[..., World], tmp_path: Path
) -> None:
    world = make_world()
    wrong = world.cli_env(**{PASSWORD_ENV: "not-the-password-123"})

    failed = cadence(tmp_path, "mailboxes", "sync", "--once", env_extra=wrong)

    assert failed.returncode == 1
    assert PASSWORD_ENV in failed.stdout and "not-the-password-123" not in failed.stdout
    alex = _listed(world, tmp_path)
    assert alex["health"] == "authentication"
    assert isinstance(alex["reason"], str) and alex["reason"].startswith("IMAP login refused")
    assert "not-the-password-123" not in alex["reason"]
    status = cadence(tmp_path, "status", "--json", env_extra=wrong)
    assert set(json.loads(status.stdout)["unhealthy_mailboxes"]) == {"alex"}

    fixed = cadence(tmp_path, "mailboxes", "sync", "--once", env_extra=world.cli_env())

    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert _listed(world, tmp_path)["health"] == "ok"


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_check_signs_in_to_both_sides_and_says_what_to_fix(
    make_world: Callable[..., World], tmp_path: Path
) -> None:
    with smtp_sink(auth=True) as (_, smtp_url):
        smtp = smtp_url.replace("smtp://", "smtp://alex%40brightwave.example@")
        # The sink takes the password "secret"; Dovecot's account is given the same one.
        world = make_world(folders=("INBOX", "No Such Folder"), password="secret", smtp_url=smtp)

        partly = cadence(tmp_path, "mailboxes", "check", env_extra=world.cli_env())
        good_smtp_only = partly.stdout
        wrong = world.cli_env(**{PASSWORD_ENV: "wrong-secret-456"})
        refused = cadence(tmp_path, "mailboxes", "check", "alex", env_extra=wrong)
        unknown = cadence(tmp_path, "mailboxes", "check", "nobody", env_extra=wrong)

    assert partly.returncode == 1, partly.stdout + partly.stderr
    assert "alex: SMTP: login ok" in good_smtp_only, partly.stdout + partly.stderr
    assert "'No Such Folder'" in good_smtp_only and "team.toml" in good_smtp_only
    assert refused.returncode == 1
    assert "IMAP login refused" in refused.stdout and "SMTP login refused" in refused.stdout
    assert PASSWORD_ENV in refused.stdout and "wrong-secret-456" not in refused.stdout
    assert _listed(world, tmp_path)["health"] == "authentication"
    assert unknown.returncode == 1 and "nobody" in unknown.stderr
