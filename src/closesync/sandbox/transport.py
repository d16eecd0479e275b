"""HTTP/1.1 keep-alive server on the standard library, with gzip and socket-level faults."""

from __future__ import annotations

import contextlib
import gzip
import logging
import shutil
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from closesync.sandbox.app import Reply, SandboxApp

log = logging.getLogger(__name__)
GZIP_MIN_BYTES = 1024


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "closesync-sandbox"
    sys_version = ""
    timeout = 120  # idle keep-alive connections end eventually
    wbufsize = 1 << 16  # headers and body leave in one write (flushed after each request by the stdlib)

    def setup(self) -> None:
        super().setup()
        # Small responses must not wait for the client's delayed ACK.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    server: SandboxHTTPServer

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        log.debug("%s " + format, self.address_string(), *args)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        # The request line never carries credentials (they travel in the Authorization header).
        log.info("%s %s", self.requestline, code)

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        reply = self.server.app.handle(self.command, self.path, headers, body)
        self._send(reply, self.server.app.gzip and "gzip" in headers.get("accept-encoding", ""))
        if reply.on_sent is not None:
            self.wfile.flush()
            reply.on_sent()

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve  # noqa: N815 - stdlib dispatch names

    def _send(self, reply: Reply, gzip_ok: bool) -> None:
        if reply.delay:
            time.sleep(reply.delay)
        if reply.mode == "drop":
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        if reply.file is not None:
            self._send_file(reply)
            return
        body = reply.body
        headers = dict(reply.headers)
        if gzip_ok and len(body) >= GZIP_MIN_BYTES:
            body = gzip.compress(body, compresslevel=1, mtime=0)
            headers["Content-Encoding"] = "gzip"
        self.send_response(reply.status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        if reply.mode == "cut":
            self.send_header("Connection", "close")
        self.end_headers()
        if reply.mode == "cut":
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.wfile.write(body)


    def _send_file(self, reply: Reply) -> None:
        assert reply.file is not None
        size = reply.file.seek(0, 2)
        reply.file.seek(0)
        self.send_response(reply.status)
        for k, v in reply.headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(size))
        self.end_headers()
        with reply.file:
            shutil.copyfileobj(reply.file, self.wfile, 1 << 16)


class SandboxHTTPServer(ThreadingHTTPServer):
    """Tracks open connections so `stop()` can end idle keep-alive sockets at once."""

    daemon_threads = True
    block_on_close = False
    request_queue_size = 256
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], app: SandboxApp) -> None:
        self.app = app
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request, client_address):  # type: ignore[no-untyped-def]
        with self._conns_lock:
            self._conns.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request):  # type: ignore[no-untyped-def]
        with self._conns_lock:
            self._conns.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request, client_address):  # type: ignore[no-untyped-def]
        log.debug("connection from %s ended with an error", client_address, exc_info=True)

    def close_all(self) -> None:
        with self._conns_lock:
            conns = list(self._conns)
            self._conns.clear()
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()
