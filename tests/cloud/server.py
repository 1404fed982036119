"""One HTTP listener on 127.0.0.1 that hands every request to a service object.

A service is any object with a `name` attribute and `handle(request: Request) -> Response`
(optionally `server_header`). The listener owns the HTTP details: HTTP/1.1 keep-alive, Content-Length
on every response, request bodies (Content-Length or chunked, read with a timeout, only when the service
asks), `Expect: 100-continue`, draining an unread body after the answer so the connection stays usable, and
stop/start on the same port (stop also cuts open keep-alive connections, so a stopped listener really is gone).
"""

import errno
import http.server
import logging
import random
import socket
import socketserver
import ssl
import threading
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Tuple
from urllib.parse import parse_qsl

logger = logging.getLogger(__name__)

MAX_DRAIN = 64 * 1024 * 1024


class IncompleteBody(Exception):
    """The client sent less body than it announced (hang-up, short body, stall past the timeout)."""

    def __init__(self, message: str, timed_out: bool = False):
        super().__init__(message)
        self.timed_out = timed_out


class BodyTooLarge(Exception):
    pass


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: List[Tuple[str, str]] = field(default_factory=list)
    close: bool = False  # send Connection: close and drop the connection afterwards
    content_length: Optional[int] = None  # for HEAD: the length to announce (body is never sent for HEAD)


class Request:
    """What a service sees of one HTTP request. The body is read only on demand (read_body)."""

    def __init__(self, handler: "_Handler", listener: "Listener"):
        self._handler = handler
        self._listener = listener
        self.method: str = handler.command
        target = handler.path
        self.path, _, self.query_string = target.partition("?")
        self.headers = handler.headers
        self.client_address = handler.client_address
        self.expect_continue = handler.expect_continue
        self.body_state = "unread"  # unread | read | broken
        self._body: Optional[bytes] = None

    # headers / query ---------------------------------------------------------------------------------------------

    def header(self, name: str, default: Optional[str] = None) -> Optional[str]:
        return self.headers.get(name, default)

    def header_values(self, name: str) -> List[str]:
        return self.headers.get_all(name) or []

    def lower_headers(self) -> Dict[str, str]:
        """lower-case name -> value (the last one when repeated)."""
        return {k.lower(): v for k, v in self.headers.items()}

    @property
    def query_pairs(self) -> List[Tuple[str, str]]:
        return parse_qsl(self.query_string, keep_blank_values=True)

    @property
    def has_body(self) -> bool:
        if "chunked" in (self.header("Transfer-Encoding") or "").lower():
            return True
        try:
            return int(self.header("Content-Length") or 0) != 0
        except ValueError:
            return True

    # body ------------------------------------------------------------------------------------------------------

    def read_body(self, max_bytes: Optional[int] = None) -> bytes:
        """The whole body; raises IncompleteBody (and marks the connection for closing) if it does not all arrive."""
        if self.body_state == "read":
            return self._body or b""
        if self.body_state == "broken":
            raise IncompleteBody("body already failed")
        if self.expect_continue:
            self._handler.send_continue()
        try:
            self._body = self._handler.read_body(self._listener.body_timeout, max_bytes)
        except (IncompleteBody, BodyTooLarge):
            self.body_state = "broken"
            self._handler.close_connection = True
            raise
        self.body_state = "read"
        return self._body

    def discard_body(self) -> bool:
        """Read and drop an unread body so the connection can be reused; False if that failed."""
        if self.body_state != "unread":
            return self.body_state == "read"
        if self.expect_continue:
            return False  # the client is still waiting for 100 Continue: it has not sent the body
        try:
            self.read_body(MAX_DRAIN)
        except (IncompleteBody, BodyTooLarge):
            return False
        return True

    def wait(self, seconds: float) -> bool:
        """Sleep, cut short when the listener stops. True if the full time passed."""
        return not self._listener.stopping.wait(seconds)

    @property
    def host(self) -> str:
        return self.header("Host") or "%s:%s" % (self._listener.host, self._listener.port)


def read_body_or_raise(
    req: Request,
    max_bytes: int,
    error: Callable[[int, str, str], Exception],
    incomplete: str,
    too_large: Tuple[int, str],
) -> bytes:
    """The whole body, or `error(status, code, message)` raised in the service's words: 400 `incomplete` when it did
    not all arrive, `too_large` (status, code) when it is over max_bytes."""
    try:
        return req.read_body(max_bytes=max_bytes)
    except IncompleteBody as exc:
        raise error(400, incomplete, "The request body is incomplete: %s" % exc) from None
    except BodyTooLarge:
        raise error(too_large[0], too_large[1], "The request body is too large.") from None


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two sends; with Nagle's algorithm the body would wait for the client's delayed
    # ACK (about 40 ms on every reused keep-alive connection). A real service answers in one segment.
    disable_nagle_algorithm = True
    listener: "Listener" = None  # set on the per-listener subclass

    def setup(self):
        super().setup()
        self.connection.settimeout(self.listener.idle_timeout)
        if isinstance(self.connection, ssl.SSLSocket):
            self.connection.do_handshake()

    def version_string(self):
        return getattr(self.listener.service, "server_header", None) or "CloudEmulator"

    def log_message(self, format, *args):  # noqa: A002 - signature from the base class
        logger.debug("%s %s", self.listener.name, format % args)

    def handle_expect_100(self):
        # Do not send "100 Continue" yet: the service may refuse the request before the body is sent.
        self.expect_continue = True
        return True

    def parse_request(self):
        self.expect_continue = False
        return super().parse_request()

    def send_continue(self):
        if self.expect_continue:
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            self.wfile.flush()
            self.expect_continue = False

    # body reading -----------------------------------------------------------------------------------------------

    def read_body(self, timeout: float, max_bytes: Optional[int]) -> bytes:
        self.connection.settimeout(timeout)
        try:
            if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
                return self._read_chunked(max_bytes)
            length = int(self.headers.get("Content-Length") or 0)
            if length < 0:
                raise IncompleteBody("negative Content-Length")
            if max_bytes is not None and length > max_bytes:
                raise BodyTooLarge("body of %d bytes" % length)
            return self._read_exact(length)
        except socket.timeout:
            raise IncompleteBody("timed out reading the body", timed_out=True) from None
        except (ConnectionError, OSError, ValueError) as exc:
            raise IncompleteBody("connection failed reading the body: %s" % exc) from None
        finally:
            try:
                self.connection.settimeout(self.listener.idle_timeout)
            except OSError:
                pass

    def _read_exact(self, n: int) -> bytes:
        chunks, remaining = [], n
        while remaining > 0:
            data = self.rfile.read1(min(remaining, 1 << 16))
            if not data:
                raise IncompleteBody("client sent %d of %d body bytes" % (n - remaining, n))
            chunks.append(data)
            remaining -= len(data)
        return b"".join(chunks)

    def _read_line(self) -> bytes:
        line = self.rfile.readline(65537)
        if not line.endswith(b"\n"):
            raise IncompleteBody("connection ended inside chunk framing")
        return line

    def _read_chunked(self, max_bytes: Optional[int]) -> bytes:
        parts, total = [], 0
        while True:
            size_text = self._read_line().split(b";", 1)[0].strip()
            size = int(size_text, 16)
            if size == 0:
                while self._read_line() not in (b"\r\n", b"\n"):  # trailers, then the blank line
                    pass
                return b"".join(parts)
            total += size
            if max_bytes is not None and total > max_bytes:
                raise BodyTooLarge("chunked body over %d bytes" % max_bytes)
            parts.append(self._read_exact(size))
            if self._read_line() not in (b"\r\n", b"\n"):
                raise IncompleteBody("bad chunk terminator")

    # dispatch ---------------------------------------------------------------------------------------------------

    def _dispatch(self):
        request = Request(self, self.listener)
        try:
            response = self.listener.service.handle(request)
        except Exception:  # a bug in a service: answer 500 and drop the connection
            logger.exception("%s: handler failed", self.listener.name)
            response = Response(500, b"emulator handler error\n", [("Content-Type", "text/plain")], close=True)
        pending = request.body_state == "unread" and request.has_body
        if pending and request.expect_continue:
            response.close = True  # the client holds the body back until "100 Continue", which it will not get
        if request.body_state == "broken":
            response.close = True
        self._write(response)
        # A body the service did not want (e.g. an upload with a bad key) is read and dropped after the answer went
        # out, so the answer is not held up and the connection stays usable; if that fails, the connection closes.
        if pending and not response.close and not request.discard_body():
            self.close_connection = True

    def _write(self, response: Response):
        try:
            self.send_response(response.status)
            names = {k.lower() for k, _ in response.headers}
            for k, v in response.headers:
                self.send_header(k, v)
            if "content-length" not in names:
                length = response.content_length if response.content_length is not None else len(response.body)
                self.send_header("Content-Length", str(length))
            if response.close:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            if self.command != "HEAD" and response.body:
                self.wfile.write(response.body)
            self.wfile.flush()
        except OSError:
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_OPTIONS = do_PATCH = _dispatch


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # the Listener joins its own threads, with a bound
    request_queue_size = 1024
    allow_reuse_address = True

    def __init__(self, address, handler_cls, listener: "Listener"):
        self.listener = listener
        super().__init__(address, handler_cls)

    def server_bind(self):
        # HTTPServer.server_bind would do a reverse DNS lookup (getfqdn); not needed and sometimes slow.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def process_request(self, request, client_address):
        t = threading.Thread(
            target=self.process_request_thread,
            args=(request, client_address),
            name="%s-conn" % self.listener.name,
            daemon=True,
        )
        self.listener._track(request, t)
        t.start()

    def process_request_thread(self, request, client_address):
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.listener._untrack(request)

    def handle_error(self, request, client_address):
        logger.debug("%s: connection error from %s", self.listener.name, client_address, exc_info=True)  # noqa: LOG014 - socketserver calls handle_error() inside its except block


def _candidate_ports() -> List[int]:
    """Random ports below the kernel's ephemeral range (then 0: any), so that while a listener is down its port
    is not handed to some outgoing connection, which would stop us re-opening it."""
    low = 32768
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        pass
    ports = [random.randint(10000, low - 1) for _ in range(30)] if low > 11000 else []
    return ports + [0]


class Listener:
    """Serves one service on host:port; start() after stop() re-opens the same port."""

    def __init__(
        self,
        service,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        ssl_context: Optional[ssl.SSLContext] = None,
        idle_timeout: float = 120.0,
        body_timeout: float = 5.0,
        name: Optional[str] = None,
    ):
        self.service = service
        self.name = name or getattr(service, "name", "service")
        self.host = host
        self.port = port
        self.ssl_context = ssl_context
        self.idle_timeout = idle_timeout
        self.body_timeout = body_timeout
        self.stopping = threading.Event()
        self._server: Optional[_Server] = None
        self._thread: Optional[threading.Thread] = None
        self._conns: Dict[object, threading.Thread] = {}
        self._conns_lock = threading.Lock()
        self._lifecycle = threading.Lock()

    @property
    def scheme(self) -> str:
        return "https" if self.ssl_context else "http"

    @property
    def address(self) -> str:
        """host:port"""
        return "%s:%d" % (self.host, self.port)

    @property
    def endpoint(self) -> str:
        return "%s://%s" % (self.scheme, self.address)

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> None:
        with self._lifecycle:
            if self._server is not None:
                return
            handler_cls = type("%sHandler" % self.name.title().replace("-", ""), (_Handler,), {"listener": self})
            self.stopping = threading.Event()
            self._server = self._bind(handler_cls)
            if self.ssl_context is not None:
                self._server.socket = self.ssl_context.wrap_socket(
                    self._server.socket, server_side=True, do_handshake_on_connect=False
                )
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name="%s-listener" % self.name,
                daemon=True,
            )
            self._thread.start()

    def _bind(self, handler_cls) -> _Server:
        if not self.port:  # first start: a random free port
            for port in _candidate_ports():
                try:
                    server = _Server((self.host, port), handler_cls, self)
                except OSError as exc:
                    if exc.errno != errno.EADDRINUSE:
                        raise
                    continue
                self.port = server.server_address[1]
                return server
        # The same port again after stop(): retry briefly in case the old socket is still being torn down.
        for attempt in range(50):
            try:
                return _Server((self.host, self.port), handler_cls, self)
            except OSError as exc:
                if exc.errno != errno.EADDRINUSE or attempt == 49:
                    raise
                threading.Event().wait(0.05)
        raise AssertionError("unreachable")

    def stop(self, timeout: float = 5.0) -> None:
        """Close the listening socket, cut every open connection, join the threads. Idempotent."""
        with self._lifecycle:
            server, thread = self._server, self._thread
            if server is None:
                return
            self._server = self._thread = None
            server.shutdown()
            server.server_close()
            with self._conns_lock:
                conns = dict(self._conns)
            for sock in conns:  # cut before waking delayed handlers, so that nothing more gets answered
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            self.stopping.set()
            for t in list(conns.values()) + [thread]:
                t.join(timeout)

    def _track(self, sock, thread) -> None:
        with self._conns_lock:
            self._conns[sock] = thread

    def _untrack(self, sock) -> None:
        with self._conns_lock:
            self._conns.pop(sock, None)

    def __repr__(self):
        return "<Listener %s %s%s>" % (self.name, self.endpoint, "" if self.running else " (stopped)")
