"""A local HTTP server in the providers' layout for the reference catalogue tests: serves a folder
with HTTP Range support, records every request, and can break the first transfer of chosen files
halfway (the connection drops after half the body) to test resumed downloads."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class Mirror:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.requests: list[tuple[str, str]] = []  # (path, Range header or "")
        self.break_once: set[str] = set()  # paths whose first transfer stops halfway
        mirror = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                wanted = self.headers.get("Range", "")
                mirror.requests.append((self.path, wanted))
                path = (mirror.root / self.path.lstrip("/")).resolve()
                if not path.is_file() or mirror.root.resolve() not in path.parents:
                    self.send_error(404)
                    return
                data = path.read_bytes()
                start = int(wanted.removeprefix("bytes=").split("-")[0]) if wanted else 0
                if start >= len(data) and wanted:
                    self.send_error(416)
                    return
                body = data[start:]
                self.send_response(206 if wanted else 200)
                if wanted:
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.path in mirror.break_once:
                    mirror.break_once.discard(self.path)
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Mirror:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
