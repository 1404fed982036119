"""OSS object operations beyond plain PUT/GET/HEAD/DELETE: CopyObject (`x-oss-copy-source`), DeleteMultipleObjects
(`POST ?delete`, Content-MD5 required), GetObjectMeta (`HEAD ?objectMeta`), AppendObject (`POST ?append&position`)
and DeleteBucket.

A mixin of OssService: it uses the service's `state`, `max_object_size`, `auto_create_buckets`, `_object`
and `_encoder`.
"""

import xml.etree.ElementTree as ElementTree
from typing import Callable, Dict, List, Optional, Tuple
from urllib.parse import unquote

from .oss_common import (
    OssError,
    check_content_md5,
    http_date,
    iso,
    new_object,
    no_such_bucket,
    read_body,
    user_metadata,
    write_headers,
    xml_response,
    xml_text,
)
from .records import StoredObject
from .server import Request, Response
from .state import CloudState

MAX_DELETE_KEYS = 1000


class ObjectOps:
    state: CloudState
    max_object_size: int
    auto_create_buckets: bool
    _object: Callable[[str, str], StoredObject]
    _encoder: Callable[[str], Callable[[str], str]]
    uploads_in_progress: Callable[[Optional[str]], List[str]]
    _parse_range: Callable[[Optional[str], int], Optional[Tuple[int, int]]]

    def _copy_source(self, req: Request) -> StoredObject:
        """The object named by `x-oss-copy-source: /bucket/url-encoded-key` (a `?versionId=` is ignored)."""
        raw = (req.header("x-oss-copy-source") or "").partition("?")[0]
        bucket, _, key = unquote(raw).lstrip("/").partition("/")
        if not bucket or not key:
            raise OssError(
                400,
                "InvalidArgument",
                "Copy Source must mention the source bucket and key: /sourcebucket/sourcekey.",
                ArgumentName="x-oss-copy-source",
            )
        return self._object(bucket, key)

    def _CopyObject(self, req: Request, bucket: str, key: str, params: Dict[str, str]) -> Response:
        source = self._copy_source(req)
        if not self.state.bucket_exists(bucket):
            raise no_such_bucket(bucket)
        if (req.header("x-oss-metadata-directive") or "COPY").upper() == "REPLACE":
            content_type, metadata = req.header("Content-Type") or "application/octet-stream", user_metadata(req)
        else:
            content_type, metadata = source.content_type, source.metadata
        obj = new_object(source.data, content_type, metadata)
        self.state.put_object(bucket, key, obj, create_bucket=False)
        return xml_response(
            200,
            '<?xml version="1.0" encoding="UTF-8"?>\n<CopyObjectResult><ETag>"%s"</ETag>'
            "<LastModified>%s</LastModified></CopyObjectResult>" % (obj.etag, iso(obj.last_modified)),
            write_headers(obj),
        )

    def _DeleteMultipleObjects(self, req: Request, bucket: str, key: str, params: Dict[str, str]) -> Response:
        if not self.state.bucket_exists(bucket):
            raise no_such_bucket(bucket)
        body = read_body(req, 2 * 1024 * 1024)
        check_content_md5(req, body, required=True)
        malformed = OssError(400, "MalformedXML", "The XML you provided was not well-formed or did not validate.")
        try:
            root = ElementTree.fromstring(body)
        except ElementTree.ParseError:
            raise malformed
        keys = [o.findtext("Key") for o in root.findall("Object")]
        if root.tag != "Delete" or not keys or None in keys or len(keys) > MAX_DELETE_KEYS:
            raise malformed
        quiet = (root.findtext("Quiet") or "false").strip().lower() == "true"
        enc = self._encoder(params.get("encoding-type", ""))
        out: List[str] = ['<?xml version="1.0" encoding="UTF-8"?>\n<DeleteResult>']
        if params.get("encoding-type"):
            out.append("<EncodingType>%s</EncodingType>" % xml_text(params["encoding-type"]))
        for name in keys:
            self.state.delete_object(bucket, name)
            if not quiet:
                out.append("<Deleted><Key>%s</Key></Deleted>" % enc(name))
        out.append("</DeleteResult>")
        return xml_response(200, "".join(out))

    def _GetObjectMeta(self, req: Request, bucket: str, key: str, params: Dict[str, str]) -> Response:
        obj = self._object(bucket, key)
        headers = [
            ("ETag", '"%s"' % obj.etag),
            ("Last-Modified", http_date(obj.last_modified)),
            ("x-oss-hash-crc64ecma", str(obj.crc64)),
        ]
        return Response(200, headers=headers, content_length=len(obj.data))

    def _AppendObject(self, req: Request, bucket: str, key: str, params: Dict[str, str]) -> Response:
        raw = params.get("position", "")
        if not raw.isdigit():
            raise OssError(
                400,
                "InvalidArgument",
                "position must be a non-negative integer.",
                ArgumentName="position",
                ArgumentValue=raw,
            )
        data = read_body(req, self.max_object_size)
        check_content_md5(req, data)
        position = int(raw)
        with self.state.lock:  # the length check and the write are one step
            current = self.state.get_object(bucket, key)
            if current is not None and current.object_type != "Appendable":
                raise OssError(409, "ObjectNotAppendable", "The object is not appendable.")
            length = len(current.data) if current else 0
            if position != length:
                raise OssError(
                    409,
                    "PositionNotEqualToLength",
                    "Position is not equal to file length.",
                    headers=[("x-oss-next-append-position", str(length))],
                )
            if current is None:
                content_type, metadata = req.header("Content-Type") or "application/octet-stream", user_metadata(req)
            else:
                content_type, metadata = current.content_type, current.metadata
            obj = new_object((current.data if current else b"") + data, content_type, metadata, "Appendable")
            if not self.state.put_object(bucket, key, obj, create_bucket=self.auto_create_buckets):
                raise no_such_bucket(bucket)
        return Response(200, headers=write_headers(obj) + [("x-oss-next-append-position", str(len(obj.data)))])

    def _DeleteBucket(self, req: Request, bucket: str, key: str, params: Dict[str, str]) -> Response:
        if self.uploads_in_progress(bucket):
            raise OssError(
                409, "BucketNotEmpty", "The bucket has multipart uploads. Please delete them first.", BucketName=bucket
            )
        deleted = self.state.delete_bucket(bucket)
        if deleted is None:
            raise no_such_bucket(bucket)
        if not deleted:
            raise OssError(409, "BucketNotEmpty", "The bucket you tried to delete is not empty.", BucketName=bucket)
        return Response(204)
