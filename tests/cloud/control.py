"""The emulator's control plane: JSON over HTTP on 127.0.0.1, so that an operator (or a test in another process)
can rehearse a key rotation against a running application. `python -m tests.cloud` serves it.

    GET    /                                   what runs: endpoints, region, secrets, buckets, KMS caller key id
    POST   /secrets          {"name", "rotation_interval"?}          201 {"name", "access_key_id"}
    GET    /secrets/NAME                       {"name", "access_key_id", "version_id", "next_rotation_date"}
    POST   /secrets/NAME/rotate {"mode": "revoke"} | {"mode": "grace", "grace_seconds"?}
                                               {"name", "access_key_id", "previous_access_key_id", "mode",
                                                "previous_key_revoked_at"}
    POST   /buckets          {"name"}                                201 {"name"}
    POST   /ots/instances    {"name"}                                201 {"name"}   a Tablestore instance
    POST   /faults/kms       {"fault": "error", "status"?, "code"?, "times"?}    KMS answers an error (503)
                             {"fault": "hang", "seconds"?, "times"?}             KMS answers late (60 s)
                             {"fault": "refuse"}                                 KMS refuses connections
                             {"fault": "throttle", "seconds"?, "times"?, "retry_after"?}
                                                 KMS answers 429 Rejected.Throttling (for seconds / times)
    DELETE /faults                             every fault cleared, KMS listening again
    GET    /calls?since=N&service=S&action=A   {"calls": [record, ...], "next": M} (poll with since=M)
    DELETE /calls                              the log emptied

A record is {"service", "action", "access_key_id", "status", "code", "time"}; the control plane's own changes are
logged too, as service "control" (action RotateSecret with the new key, RevokeKey when a grace period ends,
InjectKmsFault, ClearFaults). No answer ever holds an AccessKeySecret: the application reads the key from KMS.
Errors are {"error": "..."} with status 400, 403, 404, 405 or 415.

Every request must carry a loopback Host and, if any, a loopback Origin (403 otherwise); a write (POST, DELETE)
must say Content-Type: application/json (415 otherwise): control_access.py says why.
"""

import json
import re
import threading
import time
from typing import TYPE_CHECKING, Callable, Dict, List, Optional, Tuple
from urllib.parse import parse_qsl

from .control_access import ControlError, refuse_other_sites, require_json_content_type
from .records import iso8601
from .server import BodyTooLarge, IncompleteBody, Request, Response

if TYPE_CHECKING:
    from .emulator import CloudEmulator

ENDPOINTS = ("kms", "ecs", "oss", "cs", "sts", "sls", "mns", "ots", "control")
DEFAULT_HANG_SECONDS = 60.0
_NAME = r"(?P<name>[^/]+)"
ROUTES = [  # (method, path pattern, ControlService method): the docstring above, as code
    ("GET", re.compile(r"^/$"), "_describe"),
    ("POST", re.compile(r"^/secrets$"), "_create_secret"),
    ("GET", re.compile(r"^/secrets/%s$" % _NAME), "_get_secret"),
    ("POST", re.compile(r"^/secrets/%s/rotate$" % _NAME), "_rotate"),
    ("POST", re.compile(r"^/buckets$"), "_create_bucket"),
    ("POST", re.compile(r"^/ots/instances$"), "_create_ots_instance"),
    ("POST", re.compile(r"^/faults/kms$"), "_inject_kms_fault"),
    ("DELETE", re.compile(r"^/faults$"), "_clear_faults"),
    ("GET", re.compile(r"^/calls$"), "_calls"),
    ("DELETE", re.compile(r"^/calls$"), "_reset_calls"),
]


Handler = Callable[[Request, Dict[str, str], dict], Tuple[int, object]]


class ControlService:
    name = "control"
    server_header = "CloudEmulator-control"

    def __init__(self, cloud: "CloudEmulator") -> None:
        self.cloud = cloud
        self.extra: Dict[str, object] = {}  # more facts for GET / (e.g. the properties file written)
        self._timers: List[threading.Timer] = []
        self._lock = threading.Lock()
        self._routes: List[Tuple[str, "re.Pattern[str]", Handler]] = [
            (method, pattern, getattr(self, handler)) for method, pattern, handler in ROUTES
        ]

    def describe(self) -> dict:
        """Everything an operator needs to point an application here; never a secret."""
        endpoints = {}
        for service in ENDPOINTS:
            try:
                endpoints[service] = self.cloud.endpoint(service)
            except (KeyError, RuntimeError):
                pass
        return dict(
            {
                "endpoints": endpoints,
                "region": self.cloud.region_id,
                "secrets": self.cloud.state.secret_names(),
                "buckets": [name for name, _ in self.cloud.state.list_buckets()],
                "kms_access_key_id": self.cloud.kms_access_key[0],
            },
            **self.extra,
        )

    def close(self) -> None:
        """Cancel the pending ends of grace periods."""
        with self._lock:
            timers, self._timers = self._timers, []
        for timer in timers:
            timer.cancel()

    # ---- entry point -------------------------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        try:
            refuse_other_sites(request)
            allowed = False
            for method, pattern, handler in self._routes:
                match = pattern.match(request.path)
                if match is None:
                    continue
                allowed = True
                if method == request.method:
                    if method != "GET":
                        require_json_content_type(request)
                    status, body = handler(request, match.groupdict(), self._json_body(request))
                    return _json(status, body)
            raise ControlError(
                405 if allowed else 404,
                "no %s %s here; GET / lists what runs, the module "
                "docstring of tests/cloud/control.py every route" % (request.method, request.path),
            )
        except ControlError as err:
            return _json(err.status, {"error": str(err)})

    @staticmethod
    def _json_body(request: Request) -> dict:
        try:
            raw = request.read_body(max_bytes=1024 * 1024)
        except (IncompleteBody, BodyTooLarge) as exc:
            raise ControlError(400, "the request body could not be read: %s" % exc)
        if not raw.strip():
            return {}
        try:
            body = json.loads(raw.decode("utf-8"))
        except ValueError:
            raise ControlError(400, "the request body is not JSON") from None
        if not isinstance(body, dict):
            raise ControlError(400, "the request body must be a JSON object")
        return body

    # ---- routes ------------------------------------------------------------------------------------------------

    def _describe(self, request: Request, path: Dict[str, str], body: dict) -> Tuple[int, object]:
        return 200, self.describe()

    def _create_secret(self, request: Request, path: Dict[str, str], body: dict) -> Tuple[int, object]:
        name = _text(body, "name")
        interval = body.get("rotation_interval", 604800)
        if interval is not None and (not isinstance(interval, int) or interval <= 0):
            raise ControlError(400, "rotation_interval must be a positive number of seconds, or null")
        try:
            key_id, _ = self.cloud.create_secret(name, rotation_interval=interval)
        except ValueError as exc:
            raise ControlError(400, str(exc))
        self._log("CreateSecret", key_id)
        return 201, {"name": name, "access_key_id": key_id}

    def _get_secret(self, request: Request, path: Dict[str, str], body: dict) -> Tuple[int, object]:
        secret = self.cloud.state.get_secret(path["name"])
        if secret is None:
            raise ControlError(404, "no secret %r" % path["name"])
        current = secret.version("ACSCurrent")
        next_rotation = secret.next_rotation()
        return 200, {
            "name": secret.name,
            "access_key_id": secret.key_ids[-1] if secret.key_ids else None,
            "version_id": current.version_id if current else None,
            "next_rotation_date": iso8601(next_rotation) if next_rotation else None,
        }

    def _rotate(self, request: Request, path: Dict[str, str], body: dict) -> Tuple[int, object]:
        name, mode = path["name"], body.get("mode", "revoke")
        grace = body.get("grace_seconds")
        if mode not in ("revoke", "grace"):
            raise ControlError(400, 'mode must be "revoke" (the old key fails at once) or "grace"')
        if grace is not None and (mode != "grace" or not isinstance(grace, (int, float)) or grace < 0):
            raise ControlError(400, 'grace_seconds goes with mode "grace" and is a number of seconds >= 0')
        try:
            old_id, _ = self.cloud.current_key(name)
            new_id, _ = self.cloud.rotate_secret(name, mode=mode)
        except KeyError:
            raise ControlError(404, "no secret %r with a live key" % name) from None
        self._log("RotateSecret", new_id)
        revoked_at: Optional[float] = time.time() if mode == "revoke" else None
        if grace is not None:
            revoked_at = time.time() + grace
            self._revoke_later(old_id, grace)
        return 200, {
            "name": name,
            "access_key_id": new_id,
            "previous_access_key_id": old_id,
            "mode": mode,
            "previous_key_revoked_at": iso8601(revoked_at) if revoked_at else None,
        }

    def _create_bucket(self, request: Request, path: Dict[str, str], body: dict) -> Tuple[int, object]:
        name = _text(body, "name")
        self.cloud.create_bucket(name)
        return 201, {"name": name}

    def _create_ots_instance(self, request: Request, path: Dict[str, str], body: dict) -> Tuple[int, object]:
        """Tablestore's instances are made in the console, not through the API the SDK speaks: this stands for that."""
        name = _text(body, "name")
        self.cloud.ots.create_instance(name)
        return 201, {"name": name}

    def _inject_kms_fault(self, request: Request, path: Dict[str, str], body: dict) -> Tuple[int, object]:
        fault, times = body.get("fault"), body.get("times")
        if times is not None and (not isinstance(times, int) or times <= 0):
            raise ControlError(400, "times must be a positive number of requests (leave it out: until cleared)")
        if fault == "error":
            status = body.get("status", 503)
            if not isinstance(status, int) or not 400 <= status <= 599:
                raise ControlError(400, "status must be an HTTP error status (400-599)")
            self.cloud.kms_fault(status=status, code=body.get("code"), times=times)
        elif fault == "hang":
            seconds = body.get("seconds", DEFAULT_HANG_SECONDS)
            if not isinstance(seconds, (int, float)) or seconds <= 0:
                raise ControlError(400, "seconds must be a positive number")
            self.cloud.kms_fault(delay=float(seconds), times=times)
        elif fault == "refuse":
            self.cloud.kms_down()
        elif fault == "throttle":
            seconds, retry_after = body.get("seconds"), body.get("retry_after")
            if seconds is not None and (not isinstance(seconds, (int, float)) or not 0 < seconds <= 3600):
                raise ControlError(400, "seconds must be a positive number of seconds, at most 3600")
            if retry_after is not None and (not isinstance(retry_after, (int, str)) or str(retry_after).strip() == ""):
                raise ControlError(400, "retry_after must be a number of seconds or an HTTP date")
            self.cloud.kms_throttle(
                seconds=float(seconds) if seconds is not None else None,
                times=times,
                retry_after=str(retry_after) if retry_after is not None else None,
            )
        else:
            raise ControlError(400, 'fault must be "error", "hang", "refuse" or "throttle"')
        self._log("InjectKmsFault", None)
        return 200, {"fault": fault}

    def _clear_faults(self, request: Request, path: Dict[str, str], body: dict) -> Tuple[int, object]:
        self.cloud.clear_faults()
        self.cloud.kms_up()
        self._log("ClearFaults", None)
        return 200, {}

    def _calls(self, request: Request, path: Dict[str, str], body: dict) -> Tuple[int, object]:
        query = dict(parse_qsl(request.query_string))
        try:
            since = int(query.get("since", 0))
        except ValueError:
            raise ControlError(400, 'since must be a whole number (the "next" of the previous answer)') from None
        calls = self.cloud.calls
        picked = [
            c.as_dict()
            for c in calls[max(since, 0) :]
            if query.get("service") in (None, c.service) and query.get("action") in (None, c.action)
        ]
        return 200, {"calls": picked, "next": len(calls)}

    def _reset_calls(self, request: Request, path: Dict[str, str], body: dict) -> Tuple[int, object]:
        self.cloud.reset_counts()
        return 200, {}

    # ---- helpers -----------------------------------------------------------------------------------------------

    def _revoke_later(self, access_key_id: str, seconds: float) -> None:
        def revoke() -> None:
            self.cloud.revoke_key(access_key_id)
            self._log("RevokeKey", access_key_id)

        timer = threading.Timer(seconds, revoke)
        timer.daemon = True
        with self._lock:
            self._timers = [t for t in self._timers if t.is_alive()] + [timer]
        timer.start()

    def _log(self, action: str, access_key_id: Optional[str]) -> None:
        self.cloud.state.log_call(self.name, action, access_key_id, 200, "OK")


def _text(body: dict, field: str) -> str:
    value = body.get(field)
    if not isinstance(value, str) or not value:
        raise ControlError(400, "%r is required: a non-empty string" % field)
    return value


def _json(status: int, body: object) -> Response:
    return Response(status, json.dumps(body).encode("utf-8") + b"\n", [("Content-Type", "application/json")])


def add_to(cloud: "CloudEmulator", port: int = 0) -> ControlService:
    """Serve the control plane for `cloud` on 127.0.0.1:port (0: any free port) as `cloud.control`."""
    service = ControlService(cloud)
    service.listener = cloud.add_service("control", service, port=port)
    cloud.control = service
    return service
