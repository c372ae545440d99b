"""An aiosmtpd sink in its own process: accepts and counts every message, keeps none.

``python bench/smtp_sink_proc.py PORT COUNT_FILE``: prints ``ready`` once listening; writes the
number of messages received to COUNT_FILE every 0.2 s and on SIGTERM.
"""

import signal
import sys
import threading
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller


class CountingHandler:
    def __init__(self) -> None:
        self.count = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.count += 1
        return "250 Message accepted for delivery"


def main() -> None:
    port, count_file = int(sys.argv[1]), Path(sys.argv[2])
    handler = CountingHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print("ready", flush=True)
    while not stop.wait(0.2):
        count_file.write_text(str(handler.count))
    controller.stop()
    count_file.write_text(str(handler.count))


if __name__ == "__main__":
    main()
