"""Tablestore (OTS), API 2015-12-31: instances, tables and single rows, as the tablestore SDK speaks it.

    POST /CreateTable  /ListTable  /DescribeTable  /DeleteTable  /PutRow  /GetRow    protobuf bodies (table_store.proto)

Bodies are read and written with the tablestore package's own table_store_pb2 and its PlainBuffer row codec (a test
dependency, imported on the first Tablestore request, so the rest of the emulator runs without it); signatures and the
answer's signature are ots_auth.py. The instance is the x-ots-instancename header; create it first. Errors are a
protobuf Error{code, message} with the request id in x-ots-requestid, which the SDK raises as OTSServiceError.

    cloud.ots.create_instance("my-instance")
    client = OTSClient(cloud.ots_endpoint, key_id, key_secret, "my-instance")
    cloud.ots.deny_instance(key_id)       # 403 OTSAuthFailed "The user has no privilege to access the instance."
    cloud.ots.rows("my-instance", "t")    # {primary key tuple: [(column, value, timestamp), ...]}
"""

import base64
import datetime
import hashlib
import struct
import threading
import time
import uuid
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Set, Tuple

from .ots_auth import AUTH_FAILED, OtsAuthenticator, OtsError, response_authorization
from .rpc import apply_injected_fault
from .server import Request, Response, read_body_or_raise
from .state import CloudState

if TYPE_CHECKING:
    from .emulator import CloudEmulator

MAX_BODY = 8 * 1024 * 1024
ACTIONS = ("CreateTable", "ListTable", "DescribeTable", "DeleteTable", "PutRow", "GetRow")
Key = Tuple[Tuple[str, Any], ...]


def _pb() -> Any:
    import tablestore.protobuf.table_store_pb2 as pb

    return pb


def _read_row(data: bytes) -> Tuple[Key, list]:
    """(primary key as a hashable tuple of (name, value), attribute columns) of a PlainBuffer row."""
    from tablestore.error import OTSClientError
    from tablestore.plainbuffer.plain_buffer_coded_stream import PlainBufferCodedInputStream
    from tablestore.plainbuffer.plain_buffer_stream import PlainBufferInputStream

    try:
        primary_key, columns = PlainBufferCodedInputStream(PlainBufferInputStream(data)).read_row()
    except (OTSClientError, ValueError, IndexError, TypeError, struct.error) as exc:
        raise OtsError(400, "OTSParameterInvalid", "The row is not a valid PlainBuffer: %s" % exc) from None
    return tuple((name, value) for name, value in primary_key), columns


def _write_row(primary_key: list, columns: list) -> bytes:
    from tablestore.plainbuffer.plain_buffer_builder import PlainBufferBuilder

    return bytes(PlainBufferBuilder.serialize_for_put_row(primary_key, columns))


class Table:
    def __init__(self, meta: bytes) -> None:
        self.meta = meta  # TableMeta, serialized as CreateTable carried it
        self.rows: Dict[Key, List[tuple]] = {}


class OtsService:
    name = "ots"
    server_header = "Tengine"

    def __init__(self, state: CloudState, region_id: str = "cn-hangzhou") -> None:
        self.state = state
        self.auth = OtsAuthenticator(state, region_id)
        self._lock = threading.Lock()
        self._instances: Dict[str, Dict[str, Table]] = {}
        self._denied: Set[str] = set()

    # ---- what tests and samples use ----------------------------------------------------------------------------

    def create_instance(self, name: str) -> None:
        with self._lock:
            self._instances.setdefault(name, {})

    def deny_instance(self, access_key_id: str, denied: bool = True) -> None:
        """The key stays valid but may not use any instance (a RAM policy without Tablestore)."""
        with self._lock:
            (self._denied.add if denied else self._denied.discard)(access_key_id)

    def rows(self, instance: str, table: str) -> Dict[Key, List[tuple]]:
        with self._lock:
            return {k: list(v) for k, v in self._instances[instance][table].rows.items()}

    # ---- entry point -------------------------------------------------------------------------------------------

    def handle(self, req: Request) -> Response:
        request_id = str(uuid.uuid4())
        action = req.path.strip("/")
        headers = req.lower_headers()
        status, code = 200, "OK"
        try:
            failure = apply_injected_fault(self.state, self.name, req)
            if failure:
                raise OtsError(*failure)
            if req.method != "POST" or action not in ACTIONS:
                raise OtsError(404, "OTSUnsupportOperation", "Unsupported operation: '%s'." % action)
            body = read_body_or_raise(req, MAX_BODY, OtsError, "OTSParameterInvalid", (413, "OTSRequestBodyTooLarge"))
            key, signing_key = self.auth.authenticate(headers, req.path, body)
            tables = self._tables(headers.get("x-ots-instancename", ""), key.access_key_id)
            data = getattr(self, "_" + action)(tables, body)
            resp = self._answer(200, data, request_id, req.path, (key.access_key_id, signing_key))
        except OtsError as err:
            status, code = err.status, err.code
            error = _pb().Error(code=err.code, message=err.message).SerializeToString()
            resp = self._answer(err.status, error, request_id, req.path, None)
        finally:
            self.state.log_call(self.name, action, headers.get("x-ots-accesskeyid"), status, code, req.path)
        return resp

    def _tables(self, instance: str, access_key_id: str) -> Dict[str, Table]:
        with self._lock:
            tables = self._instances.get(instance)
            if tables is None:
                raise OtsError(403, AUTH_FAILED, "The instance is not found.")
            if access_key_id in self._denied:
                raise OtsError(403, AUTH_FAILED, "The user has no privilege to access the instance.")
            return tables

    @staticmethod
    def _answer(status: int, data: bytes, request_id: str, uri: str, signer: Optional[Tuple[str, str]]) -> Response:
        now = datetime.datetime.now(datetime.timezone.utc)
        headers = {
            "x-ots-contentmd5": base64.b64encode(hashlib.md5(data).digest()).decode(),
            "x-ots-requestid": request_id,
            "x-ots-date": now.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
            "x-ots-contenttype": "protocol buffer",
        }
        pairs = list(headers.items()) + [("Content-Type", "application/x-protobuf")]
        if signer is not None:  # the SDK refuses a 2xx answer without the service's signature
            pairs.append(("Authorization", response_authorization(signer[0], signer[1], headers, uri)))
        return Response(status, data, pairs)

    # ---- operations --------------------------------------------------------------------------------------------

    def _table(self, tables: Dict[str, Table], name: str) -> Table:
        table = tables.get(name)
        if table is None:
            raise OtsError(404, "OTSObjectNotExist", "Requested table does not exist.")
        return table

    def _CreateTable(self, tables: Dict[str, Table], body: bytes) -> bytes:
        pb = _pb()
        request = _parse(pb.CreateTableRequest, body)
        with self._lock:
            if request.table_meta.table_name in tables:
                raise OtsError(409, "OTSObjectAlreadyExist", "Requested table already exists.")
            tables[request.table_meta.table_name] = Table(request.table_meta.SerializeToString())
        return pb.CreateTableResponse().SerializeToString()

    def _ListTable(self, tables: Dict[str, Table], body: bytes) -> bytes:
        with self._lock:
            names = sorted(tables)
        return _pb().ListTableResponse(table_names=names).SerializeToString()

    def _DescribeTable(self, tables: Dict[str, Table], body: bytes) -> bytes:
        pb = _pb()
        request = _parse(pb.DescribeTableRequest, body)
        with self._lock:
            meta = self._table(tables, request.table_name).meta
        response = pb.DescribeTableResponse()
        response.table_meta.ParseFromString(meta)
        response.reserved_throughput_details.capacity_unit.read = 0
        response.reserved_throughput_details.capacity_unit.write = 0
        response.reserved_throughput_details.last_increase_time = 0
        response.table_options.time_to_live = -1
        response.table_options.max_versions = 1
        return response.SerializeToString()

    def _DeleteTable(self, tables: Dict[str, Table], body: bytes) -> bytes:
        pb = _pb()
        request = _parse(pb.DeleteTableRequest, body)
        with self._lock:
            self._table(tables, request.table_name)
            del tables[request.table_name]
        return pb.DeleteTableResponse().SerializeToString()

    def _PutRow(self, tables: Dict[str, Table], body: bytes) -> bytes:
        pb = _pb()
        request = _parse(pb.PutRowRequest, body)
        key, columns = _read_row(request.row)
        with self._lock:
            table = self._table(tables, request.table_name)
            expectation = request.condition.row_existence
            exists = key in table.rows
            if (expectation == pb.EXPECT_EXIST and not exists) or (expectation == pb.EXPECT_NOT_EXIST and exists):
                raise OtsError(403, "OTSConditionCheckFail", "Condition check failed.")
            now_ms = int(time.time() * 1000)  # the service stamps a cell written without a version
            table.rows[key] = [(c[0], c[1], c[2] if c[2] is not None else now_ms) for c in columns]
        response = pb.PutRowResponse()
        response.consumed.capacity_unit.write = 1
        return response.SerializeToString()

    def _GetRow(self, tables: Dict[str, Table], body: bytes) -> bytes:
        pb = _pb()
        request = _parse(pb.GetRowRequest, body)
        key, _ = _read_row(request.primary_key)
        with self._lock:
            columns = self._table(tables, request.table_name).rows.get(key)
        response = pb.GetRowResponse()
        response.consumed.capacity_unit.read = 1
        response.row = b""
        if columns is not None:
            wanted = set(request.columns_to_get)
            picked = [c for c in columns if not wanted or c[0] in wanted]
            response.row = _write_row(list(key), picked)
        return response.SerializeToString()


def _parse(message_class: Any, body: bytes) -> Any:
    from google.protobuf.message import DecodeError

    message = message_class()
    try:
        message.ParseFromString(body)
    except DecodeError as exc:  # also for a missing required field
        raise OtsError(
            400, "OTSParameterInvalid", "The request body is not a valid %s: %s" % (message_class.__name__, exc)
        ) from None
    return message


def add_to(cloud: "CloudEmulator") -> OtsService:
    """Serve Tablestore on its own port as `cloud.ots` (OTSClient's end_point: cloud.ots_endpoint)."""
    service = OtsService(cloud.state, cloud.region_id)
    service.listener = cloud.add_service("ots", service)
    cloud.ots = service
    return service
