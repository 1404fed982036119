"""ECS instance metadata (100.100.100.200 on a real instance): RAM role credentials, IMDSv2 tokens.

    PUT /latest/api/token                                (X-aliyun-ecs-metadata-token-ttl-seconds: 1..21600)
    GET /latest/meta-data/ram/security-credentials/        -> the attached role's name
    GET /latest/meta-data/ram/security-credentials/<role>  -> {"Code": "Success", "AccessKeyId", ...}

A GET carries `X-aliyun-ecs-metadata-token` (IMDSv2) or nothing (IMDSv1, refused when `require_token`).
The role's credentials are STS keys of the emulated cloud, valid for `lifetime` seconds; the same key is handed
out until a third of its life is left (or it was revoked/expired), as the real service renews ahead of expiry.
Requests in absolute form (`GET http://100.100.100.200/latest/...`, i.e. this service used as an HTTP proxy,
the Credentials tool's `proxy` option) are served the same.

    cloud.metadata.host                 # 127.0.0.1:PORT (ALIBABA_CLOUD_IMDS_ENDPOINT=http://<host>)
    cloud.metadata.role_name = "demo"   # the attached role (None: no role attached -> 404)
    cloud.metadata.lifetime = 30
    cloud.metadata.require_token = True # IMDSv1 requests are refused (403)
    cloud.metadata.token_api = False    # PUT /latest/api/token answers 404 (an old metadata server)
    cloud.count("GetRoleCredentials", service="metadata")   # also GetMetadataToken, GetRoleName
    cloud.metadata.v1_requests / v2_requests                # GETs without / with a valid token
"""

import json
import secrets
import threading
import time
from typing import Dict, Optional, Tuple
from urllib.parse import urlsplit

from .records import iso8601
from .server import Request, Response
from .state import CloudState
from .sts import issue_session_key

TOKEN_PATH = "/latest/api/token"
CREDENTIALS_PATH = "/latest/meta-data/ram/security-credentials/"
TTL_HEADER = "X-aliyun-ecs-metadata-token-ttl-seconds"
TOKEN_HEADER = "X-aliyun-ecs-metadata-token"
MAX_TOKEN_TTL = 21600


class MetadataService:
    name = "metadata"
    server_header = "Tengine"

    def __init__(self, state: CloudState, role_name: Optional[str] = "EcsRamRoleDemo", lifetime: float = 21600):
        self.state = state
        self.role_name = role_name
        self.lifetime = lifetime
        self.require_token = False
        self.token_api = True
        self.listener = None  # set by add_to()
        self.v1_requests = 0
        self.v2_requests = 0
        self._lock = threading.Lock()
        self._tokens: Dict[str, float] = {}
        self._current: Dict[str, Tuple[str, float]] = {}  # role -> (access key id, expires_at)

    @property
    def host(self) -> str:
        return self.listener.address

    @property
    def endpoint(self) -> str:
        return self.listener.endpoint

    def rotate(self) -> None:
        """Hand out new credentials on the next request (the old ones stay valid until they expire)."""
        with self._lock:
            self._current.clear()

    # ---- HTTP ------------------------------------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        path = request.path
        if path.startswith(("http://", "https://")):  # absolute form: we are the client's HTTP proxy
            path = urlsplit(path).path or "/"
        action, status = "Unknown", 404
        try:
            if path == TOKEN_PATH:
                action = "GetMetadataToken"
                status, body = self._token(request)
            elif path.startswith(CREDENTIALS_PATH):
                role = path[len(CREDENTIALS_PATH) :]
                action = "GetRoleCredentials" if role else "GetRoleName"
                status, body = self._credentials(request, role)
            else:
                status, body = 404, "Not Found"
        finally:
            self.state.log_call(self.name, action, None, status, "OK" if status == 200 else "HTTP%d" % status)
        ctype = "application/json" if body.startswith("{") else "text/plain"
        return Response(status, body.encode("utf-8"), [("Content-Type", ctype)])

    def _token(self, request: Request) -> Tuple[int, str]:
        if request.method != "PUT":
            return 405, "Method Not Allowed"
        if not self.token_api:
            return 404, "Not Found"
        try:
            ttl = int(request.header(TTL_HEADER) or "")
        except ValueError:
            return 400, "Bad Request: %s must be 1..%d" % (TTL_HEADER, MAX_TOKEN_TTL)
        if not 1 <= ttl <= MAX_TOKEN_TTL:
            return 400, "Bad Request: %s must be 1..%d" % (TTL_HEADER, MAX_TOKEN_TTL)
        token = secrets.token_urlsafe(32)
        with self._lock:
            now = time.time()
            self._tokens = {t: exp for t, exp in self._tokens.items() if exp > now}
            self._tokens[token] = now + ttl
        return 200, token

    def _credentials(self, request: Request, role: str) -> Tuple[int, str]:
        if request.method != "GET":
            return 405, "Method Not Allowed"
        token = request.header(TOKEN_HEADER)
        with self._lock:
            if token is not None:
                if self._tokens.get(token, 0) <= time.time():
                    return 401, "Unauthorized"
                self.v2_requests += 1
            elif self.require_token:
                return 403, "Forbidden"
            else:
                self.v1_requests += 1
        attached = self.role_name
        if not attached:
            return 404, "Not Found"
        if not role:
            return 200, attached
        if role.rstrip("/") != attached:
            return 404, "Not Found"
        key_id, secret, token_value, expires_at = self._role_key(attached)
        return 200, json.dumps(
            {
                "AccessKeyId": key_id,
                "AccessKeySecret": secret,
                "SecurityToken": token_value,
                "Expiration": iso8601(expires_at),
                "LastUpdated": iso8601(time.time()),
                "Code": "Success",
            }
        )

    def _role_key(self, role: str):
        with self._lock:
            now = time.time()
            current = self._current.get(role)
            key = self.state.get_key(current[0]) if current else None
            usable = (
                key is not None
                and key.status == "Active"
                and key.expires_at is not None
                and key.expires_at - now > self.lifetime / 3.0
            )
            if not usable:
                key = issue_session_key(self.state, self.lifetime, owner="ecs-role/" + role)
                self._current[role] = (key.access_key_id, key.expires_at)
            return key.access_key_id, key.access_key_secret, key.security_token, key.expires_at


def add_to(cloud) -> MetadataService:
    """Serve the instance metadata on its own port as `cloud.metadata`."""
    service = MetadataService(cloud.state)
    service.listener = cloud.add_service("metadata", service)
    cloud.metadata = service
    return service
