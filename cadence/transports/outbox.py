"""The file outbox: one ``.eml`` per delivered email, for the embedded default and tests."""

import os
import tempfile
from email.message import EmailMessage
from email.utils import parseaddr
from pathlib import Path


class FileOutbox:
    """Writes each message atomically (temp file, then rename) so a reader never sees half."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)

    def send(self, message: EmailMessage) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        touch = message.get("X-Cadence-Touch", "x")
        recipient = parseaddr(str(message["To"]))[1].replace("@", "_at_")
        safe = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in recipient)[:80]
        final = self.directory / f"touch-{int(touch):08d}-{safe}.eml"
        fd, temp = tempfile.mkstemp(dir=self.directory, prefix=".tmp-", suffix=".eml")
        with os.fdopen(fd, "wb") as handle:
            handle.write(message.as_bytes())
        os.replace(temp, final)

    def close(self) -> None:
        """Nothing to release."""
