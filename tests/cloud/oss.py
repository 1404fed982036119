"""OSS object API, path-style (/bucket/key), header and query-string (presigned) signatures V1, V2 and V4.

Actions (as counted in the call log): PutBucket, PutObject, GetObject (Range: 206), HeadObject, DeleteObject,
here; ListBuckets, ListObjects, ListObjectsV2 in oss_listings.py; DeleteBucket, CopyObject, DeleteMultipleObjects,
GetObjectMeta, AppendObject in oss_objects.py; InitiateMultipartUpload, UploadPart, UploadPartCopy,
CompleteMultipartUpload, AbortMultipartUpload, ListParts, ListMultipartUploads in oss_multipart.py. Who signed,
and how, is oss_auth.py. Anything else is answered 501 NotImplemented (logged as "Unsupported"). Each call-log
record carries the request's canonical resource (e.g. "/bucket/key?partNumber=3&uploadId=..."), so a test can
count re-sent parts.

Buckets: PutObject creates a missing bucket when the service is built with auto_create_buckets=True (the
emulator's default); reads and listings of a bucket that was never created answer 404 NoSuchBucket.
An object is stored only once its whole body has arrived.
"""

import base64
import re
from typing import Optional, Tuple
from urllib.parse import unquote

from . import signing
from .oss_auth import OssAuthenticator, parse_claim
from .oss_common import (
    OssError,
    check_content_md5,
    new_object,
    no_such_bucket,
    no_such_key,
    object_headers,
    read_body,
    user_metadata,
    write_headers,
    xml_text,
)
from .oss_listings import ListingOps
from .oss_multipart import MultipartOps
from .oss_objects import ObjectOps
from .records import StoredObject, new_oss_request_id
from .server import Request, Response
from .state import CloudState

# Sub-resources the emulator serves; any other one is 501 NotImplemented.
_SERVED_SUBRESOURCES = frozenset(
    {
        "continuation-token",
        "uploads",
        "uploadId",
        "partNumber",
        "delete",
        "append",
        "position",
        "objectMeta",
        "security-token",
    }
)
_QUERY_AUTH = frozenset({"security-token", "OSSAccessKeyId", "Expires", "Signature"})

# (method, sub-resource present, on a key?) -> action, tried in order; the first whose sub-resource is present wins.
_KEY_ACTIONS = [
    ("POST", "uploads", "InitiateMultipartUpload"),
    ("POST", "uploadId", "CompleteMultipartUpload"),
    ("DELETE", "uploadId", "AbortMultipartUpload"),
    ("GET", "uploadId", "ListParts"),
    ("POST", "append", "AppendObject"),
    ("HEAD", "objectMeta", "GetObjectMeta"),
]


class OssService(ListingOps, MultipartOps, ObjectOps):
    name = "oss"
    server_header = "AliyunOSS"

    def __init__(
        self,
        state: CloudState,
        region_id: str = "cn-hangzhou",
        auto_create_buckets: bool = True,
        max_object_size: int = 256 * 1024 * 1024,
    ):
        self.state = state
        self.region_id = region_id
        self.auto_create_buckets = auto_create_buckets
        self.max_object_size = max_object_size
        self.auth = OssAuthenticator(state, region_id)
        self._init_multipart()

    # ---- entry point -------------------------------------------------------------------------------------------

    def handle(self, req: Request) -> Response:
        request_id = new_oss_request_id()
        bucket, key = self._split_path(req.path)
        query = req.query_pairs
        action = self._action(req.method, bucket, key, query, req)
        access_key_id: Optional[str] = None
        status, code = 200, "OK"
        try:
            claim = parse_claim(req, query)
            access_key_id = claim.access_key_id if claim else None
            self.auth.authenticate(req, claim, bucket, key, query)
            if action == "Unsupported":
                raise OssError(501, "NotImplemented", "The emulator does not implement this operation.")
            resp = getattr(self, "_" + action)(req, bucket, key, dict(query))
            status = resp.status
        except OssError as err:
            status, code = err.status, err.code
            resp = self._error(req, err, request_id, access_key_id)
        finally:
            resource = signing.oss_v1_canonical_resource(
                bucket, key, [(k, v) for k, v in query if k not in _QUERY_AUTH]
            )
            self.state.log_call(self.name, action, access_key_id, status, code, resource)
        resp.headers.append(("x-oss-request-id", request_id))
        return resp

    @staticmethod
    def _split_path(path: str) -> Tuple[Optional[str], Optional[str]]:
        """'/' -> (None, None); '/b' or '/b/' -> ('b', None); '/b/some%2Fkey' -> ('b', 'some/key')."""
        raw = path.lstrip("/")
        if not raw:
            return None, None
        bucket, _, raw_key = raw.partition("/")
        return unquote(bucket), (unquote(raw_key) if raw_key else None)

    @staticmethod
    def _action(method: str, bucket, key, query, req: Request) -> str:
        names = {k for k, _ in query}
        subresources = {k for k in names if k in signing.OSS_V1_SUBRESOURCES and not k.startswith("response-")}
        if subresources - _SERVED_SUBRESOURCES:
            return "Unsupported"
        if bucket is None:
            return "ListBuckets" if method == "GET" else "Unsupported"
        if key is None:
            if method == "GET" and "uploads" in names:
                return "ListMultipartUploads"
            if method == "POST" and "delete" in names:
                return "DeleteMultipleObjects"
            if method == "GET" and ("list-type", "2") in query:
                return "ListObjectsV2"
            return {"GET": "ListObjects", "PUT": "PutBucket", "DELETE": "DeleteBucket"}.get(method, "Unsupported")
        copy = bool(req.header("x-oss-copy-source"))
        if method == "PUT" and "uploadId" in names:
            return "UploadPartCopy" if copy else "UploadPart"
        for verb, name, action in _KEY_ACTIONS:
            if method == verb and name in names:
                return action
        if method == "PUT" and copy:
            return "CopyObject"
        if subresources - {"security-token"}:
            return "Unsupported"
        return {"PUT": "PutObject", "GET": "GetObject", "HEAD": "HeadObject", "DELETE": "DeleteObject"}.get(
            method, "Unsupported"
        )

    # ---- buckets -----------------------------------------------------------------------------------------------

    def _PutBucket(self, req, bucket, key, params) -> Response:
        self.state.create_bucket(bucket)
        return Response(200, headers=[("Location", "/" + bucket)])

    # ---- object operations -------------------------------------------------------------------------------------

    def _PutObject(self, req: Request, bucket, key, params) -> Response:
        if not self.auto_create_buckets and not self.state.bucket_exists(bucket):
            raise no_such_bucket(bucket)
        data = read_body(req, self.max_object_size)
        check_content_md5(req, data)
        obj = new_object(data, req.header("Content-Type") or "application/octet-stream", user_metadata(req))
        if not self.state.put_object(bucket, key, obj, create_bucket=self.auto_create_buckets):
            raise no_such_bucket(bucket)
        return Response(200, headers=write_headers(obj))

    def _GetObject(self, req: Request, bucket, key, params) -> Response:
        obj = self._object(bucket, key)
        headers = object_headers(obj)
        for name in (
            "content-type",
            "content-language",
            "expires",
            "cache-control",
            "content-disposition",
            "content-encoding",
        ):
            override = params.get("response-" + name)
            if override:
                headers = [(k, v) for k, v in headers if k.lower() != name] + [(name.title(), override)]
        byte_range = self._parse_range(req.header("Range"), len(obj.data))
        if byte_range is None:
            return Response(200, obj.data, headers)
        start, end = byte_range
        headers.append(("Content-Range", "bytes %d-%d/%d" % (start, end, len(obj.data))))
        return Response(206, obj.data[start : end + 1], headers)

    def _HeadObject(self, req: Request, bucket, key, params) -> Response:
        obj = self._object(bucket, key)
        return Response(200, headers=object_headers(obj), content_length=len(obj.data))

    def _DeleteObject(self, req: Request, bucket, key, params) -> Response:
        if not self.state.bucket_exists(bucket):
            raise no_such_bucket(bucket)
        self.state.delete_object(bucket, key)
        return Response(204)

    # ---- helpers -----------------------------------------------------------------------------------------------

    def _object(self, bucket: str, key: str) -> StoredObject:
        obj = self.state.get_object(bucket, key)
        if obj is None:
            if not self.state.bucket_exists(bucket):
                raise no_such_bucket(bucket)
            raise no_such_key(key)
        return obj

    @staticmethod
    def _parse_range(value: Optional[str], size: int) -> Optional[Tuple[int, int]]:
        """A single `bytes=a-b` range -> (start, end inclusive); None (whole object) when absent or invalid,
        as OSS ignores invalid ranges. A start past the end is 416 InvalidRange."""
        m = re.match(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", value or "")
        if not m or (not m.group(1) and not m.group(2)):
            return None
        if not m.group(1):
            suffix = int(m.group(2))
            return (max(0, size - suffix), size - 1) if suffix and size else None
        start = int(m.group(1))
        end = int(m.group(2)) if m.group(2) else size - 1
        if end < start:
            return None
        if start >= size:
            raise OssError(416, "InvalidRange", "The requested range cannot be satisfied.")
        return start, min(end, size - 1)

    def _error(self, req: Request, err: OssError, request_id: str, access_key_id: Optional[str]) -> Response:
        parts = [
            '<?xml version="1.0" encoding="UTF-8"?>\n<Error>',
            "<Code>%s</Code>" % xml_text(err.code),
            "<Message>%s</Message>" % xml_text(err.message),
            "<RequestId>%s</RequestId>" % request_id,
            "<HostId>%s</HostId>" % xml_text(req.host),
        ]
        for name, value in err.extra.items():
            parts.append("<%s>%s</%s>" % (name, xml_text(value), name))
        parts.append("</Error>")
        body = "".join(parts).encode("utf-8")
        headers = [("Content-Type", "application/xml")] + err.headers
        if req.method == "HEAD":  # no body on HEAD: OSS puts the error document, base64, in x-oss-err
            headers.append(("x-oss-err", base64.b64encode(body).decode()))
            return Response(err.status, b"", headers, close=err.close, content_length=0)
        return Response(err.status, body, headers, close=err.close)
