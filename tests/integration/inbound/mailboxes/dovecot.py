"""A private Dovecot IMAP server on loopback for the mailbox tests: its own config, users,
maildirs, sockets and logs under one temporary folder, on a free port, plain text (loopback
only). Started and stopped by the tests, restarted to cut connections."""

import getpass
import grp
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from imapclient import IMAPClient

from tests.integration.smtp_sink import free_port

#: The mail processes' user when the tests run as root: Dovecot refuses mail access as root.
_NOBODY = 65534


def dovecot_binary() -> str | None:
    return shutil.which("dovecot") or next(
        (p for p in ("/usr/sbin/dovecot", "/usr/local/sbin/dovecot") if os.access(p, os.X_OK)),
        None,
    )


class Dovecot:
    def __init__(self, binary: str, root: Path, introspection_url: str | None = None) -> None:
        self.binary, self.root = binary, root
        self.introspection_url = introspection_url
        self.port = free_port()
        self.users = root / "users"
        self.mail = root / "mail"
        self._process: subprocess.Popen[bytes] | None = None
        for folder in ("run", "state", "mail"):
            (root / folder).mkdir(parents=True, exist_ok=True)
        self.users.mkdir()
        if os.geteuid() == 0:
            self.uid = self.gid = _NOBODY
            os.chown(self.mail, _NOBODY, _NOBODY)
        else:
            self.uid, self.gid = os.getuid(), os.getgid()
        self.config = root / "dovecot.conf"
        self.config.write_text(self._config())

    def _config(self) -> str:
        if os.geteuid() == 0:
            unprivileged = ""
        else:
            me, group = getpass.getuser(), grp.getgrgid(os.getgid()).gr_name
            unprivileged = (
                f"default_login_user = {me}\ndefault_internal_user = {me}\n"
                f"default_internal_group = {group}\n"
                "service anvil {\n  chroot =\n}\nservice imap-login {\n  chroot =\n}\n"
            )
        return f"""\
protocols = imap
listen = 127.0.0.1
base_dir = {self.root}/run
state_dir = {self.root}/state
log_path = {self.root}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = 1
mail_location = maildir:~/Maildir
mailbox_idle_check_interval = 1 secs
{self._oauth2()}{unprivileged}passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {self.users}/%u
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {self.users}/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
"""

    def _oauth2(self) -> str:
        """With an introspection URL: XOAUTH2 and OAUTHBEARER logins, each access token
        checked by the provider's introspection endpoint."""
        if self.introspection_url is None:
            return ""
        settings = self.root / "oauth2.conf.ext"
        settings.write_text(
            f"introspection_mode = post\nintrospection_url = {self.introspection_url}\n"
            "username_attribute = username\nactive_attribute = active\nactive_value = true\n"
        )
        return (
            "auth_mechanisms = plain login xoauth2 oauthbearer\n"
            f"passdb {{\n  driver = oauth2\n  mechanisms = xoauth2 oauthbearer\n"
            f"  args = {settings}\n}}\n"
        )

    def start(self) -> None:
        with open(self.root / "master.err", "ab") as errors:
            self._process = subprocess.Popen(
                [self.binary, "-F", "-c", str(self.config)],
                stdout=subprocess.DEVNULL,
                stderr=errors,
                start_new_session=True,  # one process group: kill() takes every child
            )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"dovecot exited at start: {self.log_tail()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"dovecot did not listen on {self.port}: {self.log_tail()}")

    def stop(self) -> None:
        self._end(lambda pid: os.kill(pid, signal.SIGTERM))

    def kill(self) -> None:
        """Kill the server and every process it started, as a crash would: open
        connections drop."""
        self._end(lambda pid: os.killpg(pid, signal.SIGKILL))

    def _end(self, signal_it: Callable[[int], None]) -> None:
        if self._process is None:
            return
        if self._process.poll() is None:
            signal_it(self._process.pid)
        self._process.wait(timeout=15)
        self._process = None
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # its children close the listener after it
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                time.sleep(0.05)
            except OSError:
                return

    def log_tail(self) -> str:
        text = ""
        for name in ("master.err", "dovecot.log"):
            path = self.root / name
            if path.exists():
                text += path.read_text(errors="replace")[-2000:]
        return text

    def add_user(self, password: str | None = None) -> tuple[str, str]:
        """A new account (user name, password) with an empty INBOX."""
        user = f"sdr{uuid.uuid4().hex[:10]}"
        password = password or uuid.uuid4().hex
        home = self.mail / user
        # A file per user: Dovecot notices a changed passwd-file at most once a second, a
        # new file at once.
        (self.users / user).write_text(
            f"{user}:{{PLAIN}}{password}:{self.uid}:{self.gid}::{home}\n"
        )
        return user, password

    def client(self, user: str, password: str) -> IMAPClient:
        client = IMAPClient("127.0.0.1", port=self.port, ssl=False, timeout=10)
        try:
            client.login(user, password)
        except Exception:
            client.shutdown()
            raise
        return client


@contextmanager
def running_dovecot(introspection_url: str | None = None) -> Iterator[Dovecot]:
    """A started Dovecot in a fresh folder, stopped and removed afterwards. Fails the test
    when Dovecot is not installed: integration tests are never skipped."""
    binary = dovecot_binary()
    if binary is None:
        pytest.fail(
            "dovecot is not installed: the mailbox tests need a real IMAP server; run "
            "scripts/services (it installs dovecot-imapd with apt-get) or install "
            "dovecot-imapd — integration tests are never skipped",
            pytrace=False,
        )
    # Not under pytest's temporary folder: Dovecot's unprivileged processes must reach it.
    root = Path(tempfile.mkdtemp(prefix="cadence-dovecot-"))
    root.chmod(0o755)
    server = Dovecot(binary, root, introspection_url)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
