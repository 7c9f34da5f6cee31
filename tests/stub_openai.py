"""A small OpenAI-compatible HTTP server on 127.0.0.1 for fault tests (outages, echoed keys).

It answers ``/v1/chat/completions`` and ``/v1/completions`` with a fixed text. ``stop_after``
closes the server after that many answers (a mid-run outage); :meth:`StubServer.start`
serves again on the same port. ``echo`` puts a string into every successful answer, and
``fail_status``/``fail_body`` make every answer an HTTP error with that body.
"""

from __future__ import annotations

import http.server
import json
import threading
from typing import Any


class StubServer:
    """A loopback OpenAI-compatible server whose faults a test sets."""

    def __init__(self, text: str = "A river is water that flows.") -> None:
        self.text = text
        self.echo = ""
        self.fail_status: int | None = None
        self.fail_body = ""
        self.stop_after: int | None = None
        self.answered = 0
        self.requests: list[dict[str, Any]] = []
        self.port = 0
        self._server: http.server.ThreadingHTTPServer | None = None
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        """The base URL (``http://127.0.0.1:PORT/v1``)."""
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> StubServer:
        """Serve (again) on the same port in a background thread."""
        stub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                self._send(404, {"error": "no model listing"})

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                with stub._lock:
                    stub.requests.append(body)
                if stub.fail_status is not None:
                    raw = stub.fail_body.encode()
                    self.send_response(stub.fail_status)
                    self.send_header("content-length", str(len(raw)))
                    self.end_headers()
                    self.wfile.write(raw)
                    return
                content = stub.text + stub.echo
                if self.path.endswith("/chat/completions"):
                    choice = {"message": {"role": "assistant", "content": content}}
                else:
                    choice = {"text": content}
                answer = {
                    "choices": [{**choice, "finish_reason": "stop", "index": 0}],
                    "usage": {"prompt_tokens": 5, "completion_tokens": 7},
                    "system_fingerprint": stub.echo,
                }
                with stub._lock:
                    stub.answered += 1
                    stop_now = stub.stop_after is not None and stub.answered >= stub.stop_after
                    if stop_now:
                        stub.stop_after = None
                if stop_now:
                    stub.stop()  # the port is closed before this answer goes out
                self._send(200, answer)

            def _send(self, status: int, data: Any) -> None:
                raw = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        self.port = server.server_address[1]
        self._server = server
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop serving and close the port (connections are refused until :meth:`start`)."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
