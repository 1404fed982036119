"""Who may call the emulator's control plane (control.py): this machine's own programs, not a web page.

A web page open in the developer's browser can reach 127.0.0.1 too: it could rotate, revoke or inject faults
(cross-site requests), or read the log after pointing a name of its own at 127.0.0.1 (DNS rebinding). So every
request must carry a Host that is a loopback name (127.0.0.1, localhost, [::1], with any port) and, if it has an
Origin, a loopback one (403 otherwise); a write (POST, DELETE) must say Content-Type: application/json (415
otherwise), which a browser sends cross-site only after a CORS preflight this server never grants.
"""

import ipaddress
from urllib.parse import urlsplit

from .server import Request


class ControlError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def is_loopback_name(host: str) -> bool:
    """``127.0.0.1``, ``localhost``, ``[::1]`` (any address of 127.0.0.0/8), with or without a port."""
    name = host.strip()
    if name.startswith("["):
        name = name[1:].split("]", 1)[0]
    elif name.count(":") == 1:
        name = name.split(":", 1)[0]
    if name.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def refuse_other_sites(request: Request) -> None:
    host = request.header("Host")
    if not host or not is_loopback_name(host):
        raise ControlError(
            403,
            "Host %r refused: the control plane answers requests addressed to 127.0.0.1, localhost or [::1] only "
            "(a name that resolves here is how DNS rebinding reaches it)" % (host or ""),
        )
    origin = request.header("Origin")
    if origin is not None:
        parts = urlsplit(origin.strip())
        if parts.scheme not in ("http", "https") or not is_loopback_name(parts.netloc):
            raise ControlError(
                403, "Origin %r refused: only pages served from this machine may call the control plane" % origin
            )


def require_json_content_type(request: Request) -> None:
    media_type = (request.header("Content-Type") or "").split(";", 1)[0].strip().lower()
    if media_type != "application/json":
        raise ControlError(
            415,
            "a %s needs Content-Type: application/json (not %r), e.g. curl -H 'Content-Type: application/json'"
            % (request.method, request.header("Content-Type") or ""),
        )
