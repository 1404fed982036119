"""What every OSS operation module shares: the error type, XML and date formatting, reading and checking a body,
and building a stored object. OSS errors are (HTTP status, code, message) plus extra fields in the error XML."""

import base64
import email.utils
import hashlib
import time
import xml.sax.saxutils
from typing import Dict, List, Optional, Tuple

from .crc64 import crc64
from .records import StoredObject
from .server import BodyTooLarge, IncompleteBody, Request, Response


class OssError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        close: bool = False,
        headers: Optional[List[Tuple[str, str]]] = None,
        **extra: str,
    ):
        super().__init__("%s %s: %s" % (status, code, message))
        self.status, self.code, self.message, self.close, self.extra = status, code, message, close, extra
        self.headers = headers or []


def xml_text(text: object) -> str:
    return xml.sax.saxutils.escape(str(text))


def iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(ts))


def http_date(ts: float) -> str:
    return email.utils.formatdate(ts, usegmt=True)


def xml_response(status: int, text: str, headers: Optional[List[Tuple[str, str]]] = None) -> Response:
    return Response(status, text.encode("utf-8"), [("Content-Type", "application/xml")] + list(headers or []))


def no_such_bucket(bucket: str) -> OssError:
    return OssError(404, "NoSuchBucket", "The specified bucket does not exist.", BucketName=bucket)


def no_such_key(key: str) -> OssError:
    return OssError(404, "NoSuchKey", "The specified key does not exist.", Key=key)


def read_body(req: Request, max_bytes: int) -> bytes:
    """The whole body, or the OSS error for a short, stalled or oversized one (the connection is then closed)."""
    try:
        return req.read_body(max_bytes=max_bytes)
    except IncompleteBody as exc:
        if exc.timed_out:
            raise OssError(
                400,
                "RequestTimeout",
                "Your socket connection to the server was not read from or written to within the timeout period.",
                close=True,
            )
        raise OssError(
            400,
            "IncompleteBody",
            "You did not provide the number of bytes specified by the Content-Length HTTP header.",
            close=True,
        )
    except BodyTooLarge:
        raise OssError(400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size.", close=True)


def check_content_md5(req: Request, data: bytes, required: bool = False) -> str:
    """The body's base64 MD5, after checking the request's Content-MD5 against it (when sent, or required)."""
    content_md5 = base64.b64encode(hashlib.md5(data).digest()).decode()
    claimed = req.header("Content-MD5")
    if claimed is None:
        if required:
            raise OssError(400, "MissingArgument", "Missing Some Required Arguments.", ArgumentName="Content-MD5")
        return content_md5
    try:
        valid = len(base64.b64decode(claimed, validate=True)) == 16
    except ValueError:
        valid = False
    if not valid:
        raise OssError(400, "InvalidDigest", "The Content-MD5 you specified is not valid.")
    if claimed != content_md5:
        raise OssError(400, "BadDigest", "The Content-MD5 you specified did not match what we received.")
    return content_md5


def user_metadata(req: Request) -> Dict[str, str]:
    return {k.lower(): v for k, v in req.headers.items() if k.lower().startswith("x-oss-meta-")}


def new_object(
    data: bytes, content_type: str, metadata: Dict[str, str], object_type: str = "Normal", etag: Optional[str] = None
) -> StoredObject:
    """A stored object; a Normal one has the MD5 of its data as ETag and Content-MD5, the others neither."""
    md5 = hashlib.md5(data).digest()
    normal = object_type == "Normal"
    return StoredObject(
        data=data,
        content_type=content_type or "application/octet-stream",
        etag=etag or md5.hex().upper(),
        content_md5=base64.b64encode(md5).decode() if normal else "",
        crc64=crc64(data),
        last_modified=time.time(),
        metadata=metadata,
        object_type=object_type,
    )


def object_headers(obj: StoredObject) -> List[Tuple[str, str]]:
    headers = [
        ("Content-Type", obj.content_type),
        ("ETag", '"%s"' % obj.etag),
        ("Last-Modified", http_date(obj.last_modified)),
        ("Accept-Ranges", "bytes"),
        ("x-oss-object-type", obj.object_type),
        ("x-oss-storage-class", "Standard"),
        ("x-oss-hash-crc64ecma", str(obj.crc64)),
    ]
    if obj.content_md5:
        headers.append(("Content-MD5", obj.content_md5))
    if obj.object_type == "Appendable":
        headers.append(("x-oss-next-append-position", str(len(obj.data))))
    headers.extend(obj.metadata.items())
    return headers


def write_headers(obj: StoredObject) -> List[Tuple[str, str]]:
    """What a write answers: ETag and CRC64 (and Content-MD5 for a Normal object)."""
    headers = [("ETag", '"%s"' % obj.etag), ("x-oss-hash-crc64ecma", str(obj.crc64))]
    if obj.content_md5:
        headers.append(("Content-MD5", obj.content_md5))
    return headers
