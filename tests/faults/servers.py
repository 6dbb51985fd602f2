"""Hostile HTTP servers as small raw-socket servers on 127.0.0.1.

Raw sockets, not http.server: the point is to send what a well-behaved library would
refuse to send (a status line with escape sequences, 100,000 headers, a body one byte a
second, an SSH banner).  Each server runs a thread per connection; :meth:`RawServer.stop`
wakes every sleeping handler so a test never leaves a thread trickling bytes behind.

A behaviour is a function ``(conn, request, server)``: ``request`` is the request head as
bytes (already read), and the behaviour writes whatever it likes to ``conn``.
"""

from __future__ import annotations

import contextlib
import functools
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

Behaviour = Callable[[socket.socket, bytes, "RawServer"], None]

FEED_ITEM_TITLE = "Healthy item one"
HEALTHY_FEED = (
    b'<?xml version="1.0"?>\n<rss version="2.0"><channel><title>Healthy feed</title>'
    b"<link>http://127.0.0.1/</link><description>fine</description>"
    b"<item><title>" + FEED_ITEM_TITLE.encode() + b"</title><link>http://127.0.0.1/1</link>"
    b"<guid>healthy-1</guid></item></channel></rss>\n"
)


def response(status: str, headers: dict[str, str] | None = None, body: bytes = b"") -> bytes:
    """An HTTP/1.1 response as bytes, with Content-Length and Connection: close."""
    lines = [f"HTTP/1.1 {status}"]
    hdrs = {"Content-Length": str(len(body)), "Connection": "close", **(headers or {})}
    lines += [f"{k}: {v}" for k, v in hdrs.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def request_path(request: bytes) -> str:
    """The path of a request head (``GET /x HTTP/1.1``), "/" when unreadable."""
    parts = request.split(b"\r\n", 1)[0].split(b" ")
    return parts[1].decode("latin-1") if len(parts) >= 2 else "/"


@dataclass
class RawServer:
    """A TCP server on 127.0.0.1 that hands every connection to ``behaviour``.

    ``accept=False`` listens but never accepts: the kernel completes the handshake
    (backlog), so the client connects and then hears nothing, like a wedged server.
    ``tls`` wraps each accepted connection (for the self-signed certificate case).
    """

    behaviour: Behaviour
    accept: bool = True
    tls: ssl.SSLContext | None = None
    host: str = "127.0.0.1"
    stopping: threading.Event = field(default_factory=threading.Event)
    connections: int = 0
    _port: int = 0
    _sock: socket.socket | None = None
    _threads: list[threading.Thread] = field(default_factory=list)
    _conns: list[socket.socket] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> RawServer:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, 0))
        sock.listen(512)
        self._sock = sock
        self._port = int(sock.getsockname()[1])
        if self.accept:
            t = threading.Thread(target=self._serve, daemon=True, name="raw-server")
            t.start()
            self._threads.append(t)
        return self

    @property
    def port(self) -> int:
        """The port (still known after :meth:`stop`, for reading results)."""
        assert self._port, "start() the server first"
        return self._port

    def url(self, path: str = "/feed", scheme: str = "http") -> str:
        return f"{scheme}://{self.host}:{self.port}{path}"

    def sleep(self, seconds: float) -> bool:
        """Sleep unless the server stops; True when it is stopping (the handler ends)."""
        return self.stopping.wait(seconds)

    def _serve(self) -> None:
        assert self._sock is not None
        self._sock.settimeout(0.2)
        while not self.stopping.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self.connections += 1
                self._conns.append(conn)
            t = threading.Thread(target=self._handle, args=(conn,), daemon=True)
            t.start()
            with self._lock:
                self._threads.append(t)

    def _handle(self, conn: socket.socket) -> None:
        try:
            if self.tls is not None:
                conn.settimeout(5)
                conn = self.tls.wrap_socket(conn, server_side=True)
            conn.settimeout(5)
            head = b""
            while b"\r\n\r\n" not in head and len(head) < 65536:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                head += chunk
            conn.settimeout(None)
            self.behaviour(conn, head, self)
        except (OSError, ssl.SSLError):
            pass  # the client hanging up is what hostile servers expect
        finally:
            with contextlib.suppress(OSError):
                conn.close()

    def stop(self) -> None:
        self.stopping.set()
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.close()
        with self._lock:
            conns, threads = list(self._conns), list(self._threads)
        for c in conns:
            with contextlib.suppress(OSError):
                c.shutdown(socket.SHUT_RDWR)
        for t in threads:
            t.join(5)


# --- behaviours -----------------------------------------------------------------------------


def healthy(conn: socket.socket, request: bytes, srv: RawServer) -> None:
    conn.sendall(response("200 OK", {"Content-Type": "application/rss+xml"}, HEALTHY_FEED))


def trickle_body(conn: socket.socket, request: bytes, srv: RawServer) -> None:
    """Headers at once, then a body of one byte a second, forever."""
    conn.sendall(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nContent-Length: 100000\r\n\r\n"
    )
    while not srv.sleep(1.0):
        conn.sendall(b" ")


def trickle_headers(conn: socket.socket, request: bytes, srv: RawServer) -> None:
    """A status line, then one header byte a second, forever."""
    conn.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
    while not srv.sleep(1.0):
        conn.sendall(b"a")


def silent(conn: socket.socket, request: bytes, srv: RawServer) -> None:
    """Accept, read the request, never answer."""
    srv.sleep(3600)


def redirect_loop(conn: socket.socket, request: bytes, srv: RawServer) -> None:
    target = "/loop-b" if request_path(request) != "/loop-b" else "/loop-a"
    conn.sendall(response("302 Found", {"Location": target}))


def permanent_hops(conn: socket.socket, request: bytes, srv: RawServer) -> None:
    """/hop/N answers 301 to /hop/N+1 until N = 11: eleven permanent redirects."""
    path = request_path(request)
    n = int(path.rsplit("/", 1)[1]) if path.startswith("/hop/") else 0
    if n < 11:
        conn.sendall(response("301 Moved Permanently", {"Location": f"/hop/{n + 1}"}))
    else:
        healthy(conn, request, srv)


def redirect_to(location: str) -> Behaviour:
    def behaviour(conn: socket.socket, request: bytes, srv: RawServer) -> None:
        conn.sendall(response("302 Found", {"Location": location}))

    return behaviour


ESCAPES = "\x1b]0;pwned\x07\x1b[2J\x1b[31m"


def escape_in_location(conn: socket.socket, request: bytes, srv: RawServer) -> None:
    conn.sendall(response("302 Found", {"Location": f"/next{ESCAPES}"}))


def escape_in_status(conn: socket.socket, request: bytes, srv: RawServer) -> None:
    conn.sendall(response(f"500 Boom{ESCAPES}"))


def html_page(conn: socket.socket, request: bytes, srv: RawServer) -> None:
    body = b"<!doctype html><html><head><title>A page</title></head><body>hi</body></html>"
    conn.sendall(response("200 OK", {"Content-Type": "text/html; charset=utf-8"}, body))


def huge_header(conn: socket.socket, request: bytes, srv: RawServer) -> None:
    """One header of 2 MB."""
    conn.sendall(b"HTTP/1.1 200 OK\r\nX-Huge: " + b"a" * (2 * 2**20) + b"\r\n")
    conn.sendall(b"Content-Length: 0\r\n\r\n")


def many_headers(conn: socket.socket, request: bytes, srv: RawServer) -> None:
    """100,000 small headers."""
    conn.sendall(b"HTTP/1.1 200 OK\r\n" + b"X-N: 1\r\n" * 100_000 + b"Content-Length: 0\r\n\r\n")


def not_http(conn: socket.socket, request: bytes, srv: RawServer) -> None:
    """An SSH server's banner where an HTTP status line belongs."""
    conn.sendall(b"SSH-2.0-OpenSSH_9.6p1 Debian-3\r\n")
    srv.sleep(1.0)


MiB = 2**20


def big_body(conn: socket.socket, request: bytes, srv: RawServer) -> None:
    """A 64 MiB body, Content-Length announced (over the 10 MiB default cap)."""
    size = 64 * MiB
    conn.sendall(
        f"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n"
        f"Content-Length: {size}\r\n\r\n".encode()
    )
    chunk = b"x" * MiB
    for _ in range(size // MiB):
        if srv.stopping.is_set():
            return
        conn.sendall(chunk)


def endless_body(conn: socket.socket, request: bytes, srv: RawServer) -> None:
    """Chunked transfer with no end: 1 MiB chunks until the client hangs up."""
    conn.sendall(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    chunk = b"%x\r\n%s\r\n" % (MiB, b"<" * MiB)
    while not srv.stopping.is_set():
        conn.sendall(chunk)


@functools.cache
def _bomb(gib: int = 1) -> bytes:
    """``gib`` GiB of zeros, gzip-compressed (about 1 MB a GiB), made once."""
    z = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: a gzip container
    zeros = bytes(MiB)
    out = [z.compress(zeros) for _ in range(gib * 1024)]
    out.append(z.flush())
    return b"".join(out)


def gzip_bomb(conn: socket.socket, request: bytes, srv: RawServer) -> None:
    """1 GiB of zeros in about 1 MB of gzip."""
    conn.sendall(
        response(
            "200 OK",
            {"Content-Type": "application/rss+xml", "Content-Encoding": "gzip"},
            _bomb(),
        )
    )


# --- helpers ----------------------------------------------------------------------------------


def closed_port() -> int:
    """A port on 127.0.0.1 where nothing listens (connection refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def self_signed_context() -> ssl.SSLContext | None:
    """A server TLS context with a fresh self-signed certificate (None without openssl)."""
    if shutil.which("openssl") is None:
        return None
    with tempfile.TemporaryDirectory(prefix="veille-tls-") as d:
        cert, key = Path(d) / "cert.pem", Path(d) / "key.pem"
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2",
             "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
            check=True, capture_output=True,
        )  # fmt: skip
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(cert, key)
    return ctx


@contextlib.contextmanager
def running(*servers: RawServer) -> Iterator[tuple[RawServer, ...]]:
    """Start servers, and stop them all however the block ends."""
    started: list[RawServer] = []
    try:
        for s in servers:
            started.append(s.start())
        yield tuple(started)
    finally:
        for s in started:
            s.stop()
