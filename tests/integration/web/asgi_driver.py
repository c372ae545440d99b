"""Drive the web app as an ASGI server does, counting the body bytes it asks for.

The TestClient hands the app the whole body at once; a server hands it over as the app
asks, so how much an app *received* is what shows whether a refusal came before the body.
"""

import asyncio
import json
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from starlette.types import ASGIApp, Message


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    received: int  # body bytes the app pulled through ``receive``

    def json(self) -> Any:
        return json.loads(self.body)


def call(
    app: ASGIApp,
    method: str,
    path: str,
    *,
    headers: Sequence[tuple[str, str]] = (),
    chunks: Iterable[bytes] = (),
    root_path: str = "",
) -> Answer:
    """One request; ``chunks`` are the body's ``http.request`` messages, handed over lazily.
    ``root_path`` is a proxy's prefix, which servers put in ``path`` too (uvicorn does).

    Run on a thread of its own: the browser tests' Playwright keeps an event loop running
    on the main thread for the whole session, where ``asyncio.run`` refuses to start."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(
            asyncio.run, _call(app, method, path, headers, chunks, root_path)
        ).result()


async def _call(
    app: ASGIApp,
    method: str,
    path: str,
    headers: Sequence[tuple[str, str]],
    chunks: Iterable[bytes],
    root_path: str,
) -> Answer:
    pending = iter(chunks)
    received = 0
    done = False
    answer = Answer(0, {}, b"", 0)

    async def receive() -> Message:
        nonlocal received, done
        chunk = next(pending, None)
        if chunk is None:
            if done:
                await asyncio.sleep(3600)  # the app waits for a disconnect: never comes
            done = True
            return {"type": "http.request", "body": b"", "more_body": False}
        received += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            answer.status = message["status"]
            answer.headers = {k.decode().lower(): v.decode() for k, v in message["headers"]}
        elif message["type"] == "http.response.body":
            answer.body += message.get("body", b"")

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "https",
        "path": root_path + path,
        "raw_path": (root_path + path).encode(),
        "query_string": b"",
        "root_path": root_path,
        "headers": [(k.lower().encode(), v.encode()) for k, v in (("host", "testserver"),)]
        + [(k.lower().encode(), v.encode()) for k, v in headers],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 443),
    }
    await app(scope, receive, send)
    answer.received = received
    return answer
