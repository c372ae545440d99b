"""The file outbox: one ``.eml`` per delivered email, for the embedded default and tests."""

import os
import threading
from email.message import EmailMessage
from pathlib import Path

from cadence.transports.headers import envelope_address, raw_header
from cadence.transports.wire import wire_bytes

_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0)


class FileOutbox:
    """Writes each message atomically (temp file, then rename) so a reader never sees half."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)

    def send(self, message: EmailMessage) -> None:
        touch = raw_header(message, "X-Cadence-Touch", "x")
        recipient = envelope_address(message, "To").replace("@", "_at_")
        safe = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in recipient)[:80]
        name = f"touch-{int(touch):08d}-{safe}.eml"
        # Unique per thread without mkstemp's random names and retries: a touch is sent by
        # one thread at a time (its claim is a compare-and-set).
        temp = self.directory / f".tmp-{os.getpid()}-{threading.get_ident()}-{name}"
        data = wire_bytes(message)
        try:
            self._write(temp, data)
        except FileNotFoundError:  # the folder was never made, or removed while running
            self.directory.mkdir(parents=True, exist_ok=True)
            self._write(temp, data)
        os.replace(temp, self.directory / name)

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        # Unbuffered: open() builds a buffered writer and asks whether the file is a
        # terminal, three more system calls an email for nothing.
        fd = os.open(path, _NEW_FILE, 0o666)  # less the umask, as open() does
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)

    def close(self) -> None:
        """Nothing to release."""
