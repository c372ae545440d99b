"""A small OAuth 2.0 provider on loopback for the XOAUTH2 tests: a token endpoint that trades
a refresh token for a new access token, and the token-introspection endpoint (RFC 7662)
Dovecot's oauth2 passdb asks whether an access token is good and whose it is."""

import json
import secrets
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Provider:
    url: str
    #: refresh token -> (client id, user name)
    grants: dict[str, tuple[str, str]] = field(default_factory=dict)
    #: access token -> user name
    issued: dict[str, str] = field(default_factory=dict)
    introspected: int = 0

    def grant(self, client_id: str, username: str) -> str:
        refresh = secrets.token_urlsafe(24)
        self.grants[refresh] = (client_id, username)
        return refresh


def _handler(provider: Provider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
            if self.path == "/token":
                self._token(form)
            elif self.path == "/introspect":
                provider.introspected += 1
                user = provider.issued.get(form.get("token", ""))
                self._answer(200, {"active": True, "username": user} if user else {"active": False})
            else:
                self._answer(404, {"error": "not_found"})

        def _token(self, form: dict[str, str]) -> None:
            grant = provider.grants.get(form.get("refresh_token", ""))
            if form.get("grant_type") != "refresh_token" or grant is None:
                self._answer(400, {"error": "invalid_grant"})
                return
            if grant[0] != form.get("client_id"):
                self._answer(401, {"error": "invalid_client"})
                return
            token = secrets.token_urlsafe(24)
            provider.issued[token] = grant[1]
            self._answer(200, {"access_token": token, "token_type": "Bearer", "expires_in": 3600})

        def _answer(self, status: int, document: dict[str, Any]) -> None:
            body = json.dumps(document).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def oauth_provider() -> Iterator[Provider]:
    provider = Provider(url="")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(provider))
    provider.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield provider
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
