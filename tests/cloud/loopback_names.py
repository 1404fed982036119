"""Host names ending in ".127.0.0.1" resolve to 127.0.0.1, in this process, while loopback_names() is active.

Log Service's LogClient puts the project in front of the endpoint's host: built with endpoint "127.0.0.1:PORT" it
connects to "my-project.127.0.0.1:PORT" (the port stops it from taking the endpoint for an IP address, and a bare IP
would mean port 80). Such a name is nobody's on the internet, so the emulator answers it here, at name resolution:

* socket.getaddrinfo, which every HTTP client in the process goes through (requests/urllib3, http.client);
* socket.socket.connect / connect_ex with a (host, port) address, which resolve in C without getaddrinfo: the SDK finds
  its own "source" address by connecting a UDP socket to "<project>.<host>:80" (aliyun.log.util.Util.get_host_ip).

Nothing of the SDK is touched, no other name changes, and no lookup for these names leaves the process (without this
a resolver would be asked for "my-project.127.0.0.1"). Nested and concurrent use is counted; the last exit restores
the originals.

    with loopback_names():
        LogClient(cloud.sls_endpoint, key_id, key_secret).list_logstores(...)

or the pytest fixture `loopback_names` (tests/cloud/pytest_fixture.py).
"""

import contextlib
import socket
import threading
from typing import Any, Iterator

SUFFIX = ".127.0.0.1"
LOOPBACK = "127.0.0.1"

_lock = threading.Lock()
_depth = 0
_originals: dict = {}


def loopback(host: Any) -> Any:
    """127.0.0.1 for a name ending in ".127.0.0.1" (str or bytes), anything else unchanged."""
    if isinstance(host, bytes):
        return LOOPBACK.encode() if host.endswith(SUFFIX.encode()) else host
    return LOOPBACK if isinstance(host, str) and host.endswith(SUFFIX) else host


def _getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
    return _originals["getaddrinfo"](loopback(host), *args, **kwargs)


def _address(address: Any) -> Any:
    if isinstance(address, tuple) and address:
        return (loopback(address[0]),) + address[1:]
    return address


def _connect(sock: socket.socket, address: Any) -> None:
    return _originals["connect"](sock, _address(address))


def _connect_ex(sock: socket.socket, address: Any) -> int:
    return _originals["connect_ex"](sock, _address(address))


@contextlib.contextmanager
def loopback_names() -> Iterator[None]:
    global _depth
    with _lock:
        if _depth == 0:
            assert "connect" not in vars(socket.socket), "socket.socket.connect is already replaced"
            _originals.update(
                getaddrinfo=socket.getaddrinfo, connect=socket.socket.connect, connect_ex=socket.socket.connect_ex
            )
            socket.getaddrinfo = _getaddrinfo  # type: ignore[assignment]
            socket.socket.connect = _connect  # type: ignore[method-assign]
            socket.socket.connect_ex = _connect_ex  # type: ignore[method-assign]
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                socket.getaddrinfo = _originals["getaddrinfo"]
                for name in ("connect", "connect_ex"):  # back to the methods socket.socket inherits from _socket
                    delattr(socket.socket, name)
