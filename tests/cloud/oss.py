"""OSS object API, path-style (/bucket/key), signature V1 and V4.

Actions (as counted in the call log): ListBuckets, PutBucket, ListObjects, ListObjectsV2, PutObject, GetObject,
HeadObject, DeleteObject. Anything else is answered 501 NotImplemented (logged as "Unsupported").

Buckets: PutObject creates a missing bucket when the service is built with auto_create_buckets=True (the
emulator's default); reads and listings of a bucket that was never created answer 404 NoSuchBucket.
An object is stored only once its whole body has arrived.
"""
import base64
import calendar
import email.utils
import hashlib
import re
import time
import xml.sax.saxutils
from typing import Dict, List, Optional, Tuple
from urllib.parse import quote, unquote

from . import signing
from .crc64 import crc64
from .records import AccessKey, StoredObject, new_oss_request_id
from .server import BodyTooLarge, IncompleteBody, Request, Response
from .state import (CloudState, KEY_INACTIVE, KEY_NOT_FOUND, TOKEN_EXPIRED, TOKEN_MALFORMED, TOKEN_MISMATCH,
                    TOKEN_MISSING, TOKEN_UNEXPECTED)

MAX_SKEW = 15 * 60
OWNER_ID = "1234567890123456"

_NO_SUCH_KEY_ID = "The OSS Access Key Id you provided does not exist in our records."
# check_key() reasons -> (HTTP status, code, message), as OSS reports them.
KEY_ERRORS = {
    KEY_NOT_FOUND: (403, "InvalidAccessKeyId", _NO_SUCH_KEY_ID),
    KEY_INACTIVE: (403, "InvalidAccessKeyId", "The OSS Access Key Id you provided is disabled."),
    TOKEN_MISSING: (403, "InvalidAccessKeyId", _NO_SUCH_KEY_ID),
    TOKEN_UNEXPECTED: (403, "InvalidAccessKeyId", _NO_SUCH_KEY_ID),
    TOKEN_MISMATCH: (403, "InvalidSecurityToken", "The security token you provided is invalid."),
    TOKEN_MALFORMED: (403, "InvalidSecurityToken", "The security token you provided is invalid."),
    TOKEN_EXPIRED: (403, "SecurityTokenExpired", "The security token you provided has expired."),
}


class OssError(Exception):
    def __init__(self, status: int, code: str, message: str, close: bool = False, **extra: str):
        super().__init__("%s %s: %s" % (status, code, message))
        self.status, self.code, self.message, self.close, self.extra = status, code, message, close, extra


def _xml(text) -> str:
    return xml.sax.saxutils.escape(str(text))


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(ts))


def _http_date(ts: float) -> str:
    return email.utils.formatdate(ts, usegmt=True)


class OssService:
    name = "oss"
    server_header = "AliyunOSS"

    def __init__(self, state: CloudState, region_id: str = "cn-hangzhou", auto_create_buckets: bool = True,
                 max_object_size: int = 256 * 1024 * 1024):
        self.state = state
        self.region_id = region_id
        self.auto_create_buckets = auto_create_buckets
        self.max_object_size = max_object_size

    # ---- entry point -------------------------------------------------------------------------------------------

    def handle(self, req: Request) -> Response:
        request_id = new_oss_request_id()
        bucket, key = self._split_path(req.path)
        query = req.query_pairs
        action = self._action(req.method, bucket, key, query, req)
        access_key_id: Optional[str] = None
        status, code = 200, "OK"
        try:
            access_key_id = self._claimed_key_id(req)
            self._authenticate(req, bucket, key, query)
            if action == "Unsupported":
                raise OssError(501, "NotImplemented", "The emulator does not implement this operation.")
            resp = getattr(self, "_" + action)(req, bucket, key, dict(query))
            status = resp.status
        except OssError as err:
            status, code = err.status, err.code
            resp = self._error(req, err, request_id, access_key_id)
        finally:
            self.state.log_call(self.name, action, access_key_id, status, code)
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
        subresources = {k for k, _ in query if k in signing.OSS_V1_SUBRESOURCES and not k.startswith("response-")}
        if subresources - {"continuation-token"}:
            return "Unsupported"
        if bucket is None:
            return "ListBuckets" if method == "GET" else "Unsupported"
        if key is None:
            if method == "GET" and ("list-type", "2") in query:
                return "ListObjectsV2"
            return {"GET": "ListObjects", "PUT": "PutBucket"}.get(method, "Unsupported")
        if method == "PUT" and req.header("x-oss-copy-source"):
            return "Unsupported"
        return {"PUT": "PutObject", "GET": "GetObject", "HEAD": "HeadObject",
                "DELETE": "DeleteObject"}.get(method, "Unsupported")

    # ---- authentication ----------------------------------------------------------------------------------------

    @staticmethod
    def _claimed_key_id(req: Request) -> Optional[str]:
        auth = req.header("Authorization") or ""
        v1 = signing.parse_oss_v1_authorization(auth)
        if v1:
            return v1[0]
        v4 = signing.parse_oss_v4_authorization(auth)
        return v4["access_key_id"] if v4 else None

    def _authenticate(self, req: Request, bucket, key, query) -> AccessKey:
        auth = req.header("Authorization")
        if not auth:
            raise OssError(403, "AccessDenied", "AccessDenied: anonymous access is not allowed by the emulator.")
        v1 = signing.parse_oss_v1_authorization(auth)
        v4 = None if v1 else signing.parse_oss_v4_authorization(auth)
        if v1 is None and v4 is None:
            raise OssError(400, "InvalidArgument", "Authorization header is invalid.")
        access_key_id = v1[0] if v1 else v4["access_key_id"]
        access_key, problem = self.state.check_key(access_key_id, req.header("x-oss-security-token"))
        if problem is not None:
            status, code, message = KEY_ERRORS[problem]
            raise OssError(status, code, message, OSSAccessKeyId=access_key_id)
        headers = req.lower_headers()
        if v1:
            self._verify_v1(req, headers, bucket, key, query, access_key, v1[1])
        else:
            self._verify_v4(req, headers, bucket, key, query, access_key, v4)
        return access_key

    @staticmethod
    def _check_skew(when: Optional[float]) -> None:
        if when is None:
            raise OssError(403, "AccessDenied", "Invalid date or x-oss-date header.")
        if abs(time.time() - when) > MAX_SKEW:
            raise OssError(403, "RequestTimeTooSkewed",
                           "The difference between the request time and the current time is too large.")

    def _verify_v1(self, req, headers, bucket, key, query, access_key: AccessKey, provided: str) -> None:
        date = headers.get("x-oss-date") or headers.get("date")
        try:
            self._check_skew(email.utils.parsedate_to_datetime(date).timestamp() if date else None)
        except (TypeError, ValueError):
            self._check_skew(None)
        resource = signing.oss_v1_canonical_resource(bucket, key, query)
        string_to_sign = signing.oss_v1_string_to_sign(req.method, headers, resource)
        expected = signing.oss_v1_signature(string_to_sign, access_key.access_key_secret)
        if not signing.constant_time_equal(provided, expected):
            raise OssError(403, "SignatureDoesNotMatch", "The request signature we calculated does not match the "
                                                         "signature you provided. Check your key and signing method.",
                           OSSAccessKeyId=access_key.access_key_id, SignatureProvided=provided,
                           StringToSign=string_to_sign,
                           StringToSignBytes=" ".join("%02x" % b for b in string_to_sign.encode("utf-8")))

    def _verify_v4(self, req, headers, bucket, key, query, access_key: AccessKey, auth: dict) -> None:
        timestamp = headers.get("x-oss-date", "")
        try:
            when = calendar.timegm(time.strptime(timestamp, "%Y%m%dT%H%M%SZ"))
        except ValueError:
            when = None
        self._check_skew(when)
        if auth["date"] != timestamp[:8]:
            raise OssError(400, "InvalidArgument", "Invalid signing date in Authorization header.")
        if auth["region"] != self.region_id:
            raise OssError(400, "InvalidArgument", "Invalid signing region in Authorization header.")
        if auth["product"] != "oss":
            raise OssError(400, "InvalidArgument", "Invalid signing product in Authorization header.")
        canonical = signing.oss_v4_canonical_request(req.method, bucket, key, query, headers,
                                                     auth["additional_headers"])
        scope = signing.oss_v4_scope(auth["date"], auth["region"], auth["product"])
        string_to_sign = signing.oss_v4_string_to_sign(canonical, timestamp, scope)
        expected = signing.oss_v4_signature(string_to_sign, access_key.access_key_secret, auth["date"],
                                            auth["region"], auth["product"])
        if not signing.constant_time_equal(auth["signature"].lower(), expected):
            raise OssError(403, "SignatureDoesNotMatch", "The request signature we calculated does not match the "
                                                         "signature you provided. Check your key and signing method.",
                           OSSAccessKeyId=access_key.access_key_id, SignatureProvided=auth["signature"],
                           CanonicalRequest=canonical, StringToSign=string_to_sign)

    # ---- service and bucket operations -------------------------------------------------------------------------

    def _ListBuckets(self, req, bucket, key, params) -> Response:
        prefix, marker = params.get("prefix", ""), params.get("marker", "")
        max_keys = self._max_keys(params)
        names = [(n, t) for n, t in self.state.list_buckets() if n.startswith(prefix) and n > marker]
        page, truncated = names[:max_keys], len(names) > max_keys
        parts = ['<?xml version="1.0" encoding="UTF-8"?>\n<ListAllMyBucketsResult>',
                 "<Owner><ID>%s</ID><DisplayName>%s</DisplayName></Owner>" % (OWNER_ID, OWNER_ID)]
        if prefix or marker or "max-keys" in params:
            parts.append("<Prefix>%s</Prefix><Marker>%s</Marker><MaxKeys>%d</MaxKeys><IsTruncated>%s</IsTruncated>"
                         % (_xml(prefix), _xml(marker), max_keys, str(truncated).lower()))
            if truncated:
                parts.append("<NextMarker>%s</NextMarker>" % _xml(page[-1][0]))
        parts.append("<Buckets>")
        for name, created in page:
            parts.append("<Bucket><CreationDate>%s</CreationDate><ExtranetEndpoint>oss-%s.aliyuncs.com"
                         "</ExtranetEndpoint><IntranetEndpoint>oss-%s-internal.aliyuncs.com</IntranetEndpoint>"
                         "<Location>oss-%s</Location><Name>%s</Name><Region>%s</Region>"
                         "<StorageClass>Standard</StorageClass></Bucket>"
                         % (_iso(created), self.region_id, self.region_id, self.region_id, _xml(name),
                            self.region_id))
        parts.append("</Buckets></ListAllMyBucketsResult>")
        return self._xml_response(200, "".join(parts))

    def _PutBucket(self, req, bucket, key, params) -> Response:
        self.state.create_bucket(bucket)
        return Response(200, headers=[("Location", "/" + bucket)])

    def _ListObjects(self, req, bucket, key, params) -> Response:
        prefix, marker, delimiter, encoding = (params.get(n, "") for n in ("prefix", "marker", "delimiter",
                                                                            "encoding-type"))
        max_keys = self._max_keys(params)
        contents, prefixes, truncated, last = self._collect(bucket, prefix, marker, delimiter, max_keys)
        enc = self._encoder(encoding)
        parts = ['<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult>',
                 "<Name>%s</Name><Prefix>%s</Prefix><Marker>%s</Marker><MaxKeys>%d</MaxKeys>"
                 "<Delimiter>%s</Delimiter>" % (_xml(bucket), enc(prefix), enc(marker), max_keys, enc(delimiter))]
        if encoding:
            parts.append("<EncodingType>%s</EncodingType>" % _xml(encoding))
        parts.append("<IsTruncated>%s</IsTruncated>" % str(truncated).lower())
        if truncated:
            parts.append("<NextMarker>%s</NextMarker>" % enc(last))
        parts += self._listing_entries(contents, prefixes, enc, owner=True)
        parts.append("</ListBucketResult>")
        return self._xml_response(200, "".join(parts))

    def _ListObjectsV2(self, req, bucket, key, params) -> Response:
        prefix, delimiter, encoding = (params.get(n, "") for n in ("prefix", "delimiter", "encoding-type"))
        start_after, token = params.get("start-after", ""), params.get("continuation-token", "")
        max_keys = self._max_keys(params)
        after = max(start_after, token)
        contents, prefixes, truncated, last = self._collect(bucket, prefix, after, delimiter, max_keys)
        enc = self._encoder(encoding)
        parts = ['<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult>',
                 "<Name>%s</Name><Prefix>%s</Prefix><MaxKeys>%d</MaxKeys><Delimiter>%s</Delimiter>"
                 % (_xml(bucket), enc(prefix), max_keys, enc(delimiter))]
        if start_after:
            parts.append("<StartAfter>%s</StartAfter>" % enc(start_after))
        if token:
            parts.append("<ContinuationToken>%s</ContinuationToken>" % enc(token))
        if encoding:
            parts.append("<EncodingType>%s</EncodingType>" % _xml(encoding))
        parts.append("<IsTruncated>%s</IsTruncated><KeyCount>%d</KeyCount>"
                     % (str(truncated).lower(), len(contents) + len(prefixes)))
        if truncated:
            parts.append("<NextContinuationToken>%s</NextContinuationToken>" % enc(last))
        parts += self._listing_entries(contents, prefixes, enc, owner=params.get("fetch-owner") == "true")
        parts.append("</ListBucketResult>")
        return self._xml_response(200, "".join(parts))

    def _collect(self, bucket, prefix, after, delimiter, max_keys):
        """Keys under prefix and after `after`, common prefixes folded by delimiter, at most max_keys entries.
        -> (contents, common prefixes, truncated, last key consumed: the next marker/token)."""
        listing = self.state.list_objects(bucket)
        if listing is None:
            raise self._no_such_bucket(bucket)
        contents: List[Tuple[str, StoredObject]] = []
        prefixes: List[str] = []
        truncated, last = False, ""
        for name, obj in listing:
            if not name.startswith(prefix) or name <= after:
                continue
            common = None
            if delimiter:
                cut = name.find(delimiter, len(prefix))
                if cut >= 0:
                    common = name[:cut + len(delimiter)]
            if common is not None and prefixes and prefixes[-1] == common:
                last = name  # folded into the common prefix already listed
                continue
            if len(contents) + len(prefixes) >= max_keys:
                truncated = True
                break
            if common is not None:
                prefixes.append(common)
            else:
                contents.append((name, obj))
            last = name
        return contents, prefixes, truncated, last

    @staticmethod
    def _encoder(encoding: str):
        if encoding == "url":
            return lambda s: _xml(quote(s, safe="/"))
        return _xml

    @staticmethod
    def _listing_entries(contents, prefixes, enc, owner: bool) -> List[str]:
        parts = []
        owner_xml = "<Owner><ID>%s</ID><DisplayName>%s</DisplayName></Owner>" % (OWNER_ID, OWNER_ID) if owner else ""
        for name, obj in contents:
            parts.append('<Contents><Key>%s</Key><LastModified>%s</LastModified><ETag>"%s"</ETag>'
                         "<Type>Normal</Type><Size>%d</Size><StorageClass>Standard</StorageClass>%s</Contents>"
                         % (enc(name), _iso(obj.last_modified), obj.etag, len(obj.data), owner_xml))
        for common in prefixes:
            parts.append("<CommonPrefixes><Prefix>%s</Prefix></CommonPrefixes>" % enc(common))
        return parts

    # ---- object operations -------------------------------------------------------------------------------------

    def _PutObject(self, req: Request, bucket, key, params) -> Response:
        if not self.auto_create_buckets and not self.state.bucket_exists(bucket):
            raise self._no_such_bucket(bucket)
        try:
            data = req.read_body(max_bytes=self.max_object_size)
        except IncompleteBody as exc:
            if exc.timed_out:
                raise OssError(400, "RequestTimeout", "Your socket connection to the server was not read from or "
                                                      "written to within the timeout period.", close=True)
            raise OssError(400, "IncompleteBody", "You did not provide the number of bytes specified by the "
                                                  "Content-Length HTTP header.", close=True)
        except BodyTooLarge:
            raise OssError(400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size.",
                           close=True)
        md5 = hashlib.md5(data).digest()
        content_md5 = base64.b64encode(md5).decode()
        claimed_md5 = req.header("Content-MD5")
        if claimed_md5 is not None:
            try:
                valid = len(base64.b64decode(claimed_md5, validate=True)) == 16
            except ValueError:
                valid = False
            if not valid:
                raise OssError(400, "InvalidDigest", "The Content-MD5 you specified is not valid.")
            if claimed_md5 != content_md5:
                raise OssError(400, "BadDigest", "The Content-MD5 you specified did not match what we received.")
        metadata = {k.lower(): v for k, v in req.headers.items() if k.lower().startswith("x-oss-meta-")}
        obj = StoredObject(data=data, content_type=req.header("Content-Type") or "application/octet-stream",
                           etag=md5.hex().upper(), content_md5=content_md5, crc64=crc64(data),
                           last_modified=time.time(), metadata=metadata)
        if not self.state.put_object(bucket, key, obj, create_bucket=self.auto_create_buckets):
            raise self._no_such_bucket(bucket)
        return Response(200, headers=[("ETag", '"%s"' % obj.etag), ("x-oss-hash-crc64ecma", str(obj.crc64)),
                                      ("Content-MD5", content_md5)])

    def _GetObject(self, req: Request, bucket, key, params) -> Response:
        obj = self._object(bucket, key)
        headers = self._object_headers(obj)
        for name in ("content-type", "content-language", "expires", "cache-control", "content-disposition",
                     "content-encoding"):
            override = params.get("response-" + name)
            if override:
                headers = [(k, v) for k, v in headers if k.lower() != name] + [(name.title(), override)]
        byte_range = self._parse_range(req.header("Range"), len(obj.data))
        if byte_range is None:
            return Response(200, obj.data, headers)
        start, end = byte_range
        headers.append(("Content-Range", "bytes %d-%d/%d" % (start, end, len(obj.data))))
        return Response(206, obj.data[start:end + 1], headers)

    def _HeadObject(self, req: Request, bucket, key, params) -> Response:
        obj = self._object(bucket, key)
        return Response(200, headers=self._object_headers(obj), content_length=len(obj.data))

    def _DeleteObject(self, req: Request, bucket, key, params) -> Response:
        if not self.state.bucket_exists(bucket):
            raise self._no_such_bucket(bucket)
        self.state.delete_object(bucket, key)
        return Response(204)

    # ---- helpers -----------------------------------------------------------------------------------------------

    def _object(self, bucket: str, key: str) -> StoredObject:
        obj = self.state.get_object(bucket, key)
        if obj is None:
            if not self.state.bucket_exists(bucket):
                raise self._no_such_bucket(bucket)
            raise OssError(404, "NoSuchKey", "The specified key does not exist.", Key=key)
        return obj

    @staticmethod
    def _object_headers(obj: StoredObject) -> List[Tuple[str, str]]:
        headers = [("Content-Type", obj.content_type), ("ETag", '"%s"' % obj.etag),
                   ("Last-Modified", _http_date(obj.last_modified)), ("Accept-Ranges", "bytes"),
                   ("x-oss-object-type", "Normal"), ("x-oss-storage-class", "Standard"),
                   ("x-oss-hash-crc64ecma", str(obj.crc64)), ("Content-MD5", obj.content_md5)]
        headers.extend(obj.metadata.items())
        return headers

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

    @staticmethod
    def _max_keys(params: Dict[str, str]) -> int:
        raw = params.get("max-keys", "")
        if raw == "":
            return 100
        if not raw.isdigit() or not 0 < int(raw) <= 1000:
            raise OssError(400, "InvalidArgument", "Argument max-keys must be an integer between 1 and 1000.")
        return int(raw)

    @staticmethod
    def _no_such_bucket(bucket: str) -> OssError:
        return OssError(404, "NoSuchBucket", "The specified bucket does not exist.", BucketName=bucket)

    @staticmethod
    def _xml_response(status: int, text: str) -> Response:
        return Response(status, text.encode("utf-8"), [("Content-Type", "application/xml")])

    def _error(self, req: Request, err: OssError, request_id: str, access_key_id: Optional[str]) -> Response:
        parts = ['<?xml version="1.0" encoding="UTF-8"?>\n<Error>', "<Code>%s</Code>" % _xml(err.code),
                 "<Message>%s</Message>" % _xml(err.message), "<RequestId>%s</RequestId>" % request_id,
                 "<HostId>%s</HostId>" % _xml(req.host)]
        for name, value in err.extra.items():
            parts.append("<%s>%s</%s>" % (name, _xml(value), name))
        parts.append("</Error>")
        body = "".join(parts).encode("utf-8")
        headers = [("Content-Type", "application/xml")]
        if req.method == "HEAD":  # no body on HEAD: OSS puts the error document, base64, in x-oss-err
            headers.append(("x-oss-err", base64.b64encode(body).decode()))
            return Response(err.status, b"", headers, close=err.close, content_length=0)
        return Response(err.status, body, headers, close=err.close)
