"""A credentials-URI endpoint (the Credentials tool's `credentials_uri` type / ALIBABA_CLOUD_CREDENTIALS_URI).

    GET <any path> -> {"Code": "Success", "AccessKeyId", "AccessKeySecret", "SecurityToken", "Expiration"}

Every request issues a new STS key of the emulated cloud, valid for `lifetime` seconds.

    cloud.credentials_uri.url                    # http://127.0.0.1:PORT/credentials
    cloud.credentials_uri.lifetime = 30
    cloud.credentials_uri.respond_with(500, '{"Code":"InternalError"}', times=1)   # canned answers first
    cloud.count("GetCredentials", service="credentials_uri")
"""

import json
import threading
from typing import List, Optional, Tuple

from .server import Request, Response
from .state import CloudState
from .sts import credentials_body, issue_session_key


class CredentialsUriService:
    name = "credentials_uri"
    server_header = "CloudEmulator"

    def __init__(self, state: CloudState, lifetime: float = 3600):
        self.state = state
        self.lifetime = lifetime
        self.listener = None  # set by add_to()
        self._lock = threading.Lock()
        self._canned: List[Tuple[int, str]] = []

    @property
    def url(self) -> str:
        return "%s/credentials" % self.listener.endpoint

    def respond_with(self, status: int, body: str, times: int = 1) -> None:
        """Answer the next `times` requests with this status and body instead of issuing a key."""
        with self._lock:
            self._canned.extend([(status, body)] * times)

    def handle(self, request: Request) -> Response:
        status, body = 200, ""
        try:
            with self._lock:
                canned: Optional[Tuple[int, str]] = self._canned.pop(0) if self._canned else None
            if request.method != "GET":
                status, body = 405, '{"Code":"MethodNotAllowed"}'
            elif canned is not None:
                status, body = canned
            else:
                key = issue_session_key(self.state, self.lifetime, owner="credentials-uri")
                body = json.dumps(dict(credentials_body(key), Code="Success"))
        finally:
            self.state.log_call(self.name, "GetCredentials", None, status, "OK" if status == 200 else "HTTP%d" % status)
        return Response(status, body.encode("utf-8"), [("Content-Type", "application/json")])


def add_to(cloud) -> CredentialsUriService:
    """Serve the credentials URI on its own port as `cloud.credentials_uri`."""
    service = CredentialsUriService(cloud.state)
    service.listener = cloud.add_service("credentials_uri", service)
    cloud.credentials_uri = service
    return service
