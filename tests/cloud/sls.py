"""Log Service (SLS): enough of its API to ship logs through a key rotation and read back exactly what was stored.

    POST /logstores/{logstore}/shards/lb (or /route)     PutLogs        protobuf LogGroup, plain / lz4 / deflate
    GET  /logstores                                      ListLogStores  {"count", "total", "logstores"}
    GET  /logstores/{logstore}/shards/{shard}?type=cursor&from=begin|end|<unix time>    GetCursor  {"cursor"}
    GET  /logstores/{logstore}/shards/{shard}?type=log&cursor=C&count=N                 PullLogs   LogGroupList

The project is the first label of the Host header, as the SDK sends it: a client built with endpoint "127.0.0.1:PORT"
connects to "<project>.127.0.0.1:PORT", a name that loopback_names.py resolves to 127.0.0.1 in the test process.
Signatures, keys and tokens are sls_auth.py; bodies sls_codec.py. Errors are JSON {"errorCode", "errorMessage"} with
the request id in `x-log-requestid`. One shard per logstore; LogGroups are stored as they arrived (after
decompression), each exactly once per accepted PutLogs:

    cloud.sls.create_logstore("my-project", "app-log")
    client = LogClient(cloud.sls_endpoint, key_id, key_secret)
    cloud.sls.records("my-project", "app-log")     # [LogRecord(time, contents, topic, source, tags), ...]
    cloud.count("PutLogs", service="sls", code="OK")
    cloud.service_fault("sls", status=500)         # the SDK retries a 5xx ten times, a second apart
"""

import base64
import json
import threading
import time
from typing import TYPE_CHECKING, Callable, Dict, List, Optional, Tuple
from urllib.parse import unquote

from .records import new_oss_request_id
from .rpc import apply_injected_fault
from .server import Request, Response, read_body_or_raise
from .sls_auth import SlsAuthenticator, parse_authorization
from .sls_codec import BodyError, LogRecord, decode_log_group, decompress, encode_log_group_list
from .state import CloudState

if TYPE_CHECKING:
    from .emulator import CloudEmulator

MAX_BODY = 32 * 1024 * 1024
Handler = Callable[[str, List[str], Dict[str, str], Dict[str, str], bytes], Response]


class SlsService:
    name = "sls"
    server_header = "nginx"

    def __init__(self, state: CloudState, region_id: str = "cn-hangzhou", host: str = "127.0.0.1") -> None:
        self.state = state
        self.host = host
        self.auth = SlsAuthenticator(state, region_id)
        self._lock = threading.Lock()
        self._stores: Dict[Tuple[str, str], List[Tuple[float, bytes]]] = {}  # -> (received at, raw LogGroup)

    # ---- what tests and samples use ----------------------------------------------------------------------------

    def create_logstore(self, project: str, logstore: str) -> None:
        with self._lock:
            self._stores.setdefault((project, logstore), [])

    def records(self, project: str, logstore: str) -> List[LogRecord]:
        """Every log stored in the logstore, in arrival order."""
        with self._lock:
            groups = [raw for _, raw in self._stores.get((project, logstore), [])]
        return [record for raw in groups for record in decode_log_group(raw)]

    # ---- entry point -------------------------------------------------------------------------------------------

    def handle(self, req: Request) -> Response:
        request_id = new_oss_request_id()
        project = self._project(req.host)
        path = unquote(req.path)
        query = req.query_pairs
        action: Optional[str] = None
        auth = parse_authorization(req.header("Authorization") or "")
        status, code = 200, "OK"
        try:
            action, handler, names = self._route(req.method, path, dict(query))
            failure = apply_injected_fault(self.state, self.name, req)
            if failure:
                raise BodyError(*failure)
            body = read_body_or_raise(req, MAX_BODY, BodyError, "InvalidContentLength", (413, "PostBodyTooLarge"))
            headers = req.lower_headers()
            self.auth.authenticate(req.method, headers, path, query, body)
            resp = handler(project, names, dict(query), headers, body)
        except BodyError as err:
            status, code = err.status, err.code
            resp = _json(err.status, {"errorCode": err.code, "errorMessage": err.message})
        finally:
            key_id = auth["access_key_id"] if auth else None
            self.state.log_call(self.name, action, key_id, status, code, "/%s%s" % (project, path))
        resp.headers.append(("x-log-requestid", request_id))
        return resp

    def _project(self, host: str) -> str:
        """ "my-project.127.0.0.1:PORT" -> "my-project" ("" when the Host names no project)."""
        name, suffix = host.rsplit(":", 1)[0], "." + self.host
        return name[: -len(suffix)] if name.endswith(suffix) else ""

    def _route(self, method: str, path: str, params: Dict[str, str]) -> Tuple[str, Handler, List[str]]:
        parts = path.strip("/").split("/")
        if method == "GET" and parts == ["logstores"]:
            return "ListLogStores", self._list_logstores, []
        if len(parts) == 4 and parts[0] == "logstores" and parts[2] == "shards":
            if method == "POST" and parts[3] in ("lb", "route"):
                return "PutLogs", self._put_logs, [parts[1]]
            if method == "GET" and params.get("type") == "cursor":
                return "GetCursor", self._get_cursor, [parts[1], parts[3]]
            if method == "GET" and params.get("type") == "log":
                return "PullLogs", self._pull_logs, [parts[1], parts[3]]
        raise BodyError(404, "InvalidMethod", "The emulator does not serve %s %s." % (method, path))

    def _groups(self, project: str, logstore: str) -> List[Tuple[float, bytes]]:
        """The logstore's stored groups (the caller holds the lock)."""
        if not any(p == project for p, _ in self._stores):
            raise BodyError(404, "ProjectNotExist", "The Project does not exist : %s" % project)
        groups = self._stores.get((project, logstore))
        if groups is None:
            raise BodyError(404, "LogStoreNotExist", "logstore %s does not exist" % logstore)
        return groups

    # ---- operations --------------------------------------------------------------------------------------------

    def _put_logs(self, project: str, names: List[str], params: Dict[str, str], headers: Dict[str, str], body: bytes):
        raw = decompress(body, headers.get("x-log-compresstype", ""), headers.get("x-log-bodyrawsize", ""))
        decode_log_group(raw)  # refuse a malformed group before storing anything
        with self._lock:
            self._groups(project, names[0]).append((time.time(), raw))
        return Response(200, b"", [("Content-Type", "application/json")])

    def _list_logstores(self, project: str, names: List[str], params: Dict[str, str], headers: Dict[str, str], body):
        with self._lock:
            stores = sorted(ls for p, ls in self._stores if p == project)
        if not stores:
            raise BodyError(404, "ProjectNotExist", "The Project does not exist : %s" % project)
        pattern = params.get("logstoreName", "")
        stores = [s for s in stores if pattern in s]
        offset, size = int(params.get("offset", 0)), int(params.get("size", 500))
        page = stores[offset : offset + size]
        return _json(200, {"count": len(page), "total": len(stores), "logstores": page})

    def _get_cursor(self, project: str, names: List[str], params: Dict[str, str], headers: Dict[str, str], body):
        with self._lock:
            groups = self._groups(project, names[0])
            start = params.get("from", "")
            if start == "begin":
                index = 0
            elif start == "end":
                index = len(groups)
            else:
                when = float(start) if start.isdigit() else None
                if when is None:
                    raise BodyError(400, "ParameterInvalid", "from %s is not valid" % start)
                index = next((i for i, (at, _) in enumerate(groups) if at >= when), len(groups))
        return _json(200, {"cursor": _cursor(index)})

    def _pull_logs(self, project: str, names: List[str], params: Dict[str, str], headers: Dict[str, str], body):
        try:
            index = int(base64.b64decode(params.get("cursor", ""), validate=True).decode())
            count = int(params.get("count", "1000"))
        except ValueError:
            raise BodyError(400, "InvalidCursor", "cursor %s is not valid" % params.get("cursor")) from None
        with self._lock:
            groups = [raw for _, raw in self._groups(project, names[0])[index : index + count]]
        data = encode_log_group_list(groups)
        return Response(
            200,
            data,
            [
                ("Content-Type", "application/x-protobuf"),
                ("x-log-cursor", _cursor(index + len(groups))),
                ("x-log-count", str(len(groups))),
                ("x-log-bodyrawsize", str(len(data))),
            ],
        )


def _cursor(index: int) -> str:
    return base64.b64encode(str(index).encode()).decode()


def _json(status: int, body: dict) -> Response:
    return Response(status, json.dumps(body).encode("utf-8"), [("Content-Type", "application/json")])


def add_to(cloud: "CloudEmulator") -> SlsService:
    """Serve Log Service on its own port as `cloud.sls`; LogClient's endpoint is `cloud.sls_endpoint` (host:port)."""
    service = SlsService(cloud.state, cloud.region_id, cloud.host)
    service.listener = cloud.add_service("sls", service)
    cloud.sls = service
    return service
