"""OSS multipart upload: InitiateMultipartUpload, UploadPart, UploadPartCopy, CompleteMultipartUpload (the part
list and its ETags checked), AbortMultipartUpload, ListParts, ListMultipartUploads.

A mixin of OssService: it uses the service's `state`, `max_object_size`, `auto_create_buckets` and
`_copy_source` (oss_objects.py). Uploads in progress live here, behind their own lock; the object appears
in the bucket only when the upload is completed.
"""

import hashlib
import itertools
import threading
import time
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Tuple

from .crc64 import crc64
from .oss_common import (
    OssError,
    check_content_md5,
    iso,
    new_object,
    no_such_bucket,
    read_body,
    user_metadata,
    write_headers,
    xml_response,
    xml_text,
)
from .records import StoredObject, random_text
from .server import Request, Response
from .state import CloudState

MIN_PART_SIZE = 100 * 1024  # every part but the last
MAX_PART_NUMBER = 10000


@dataclass
class Part:
    data: bytes
    etag: str  # upper-case hex MD5
    crc64: int
    last_modified: float


@dataclass
class Upload:
    upload_id: str
    bucket: str
    key: str
    initiated: float
    content_type: str
    metadata: Dict[str, str]
    parts: Dict[int, Part] = field(default_factory=dict)


class MultipartOps:
    state: CloudState
    max_object_size: int
    auto_create_buckets: bool
    _copy_source: Callable[[Request], StoredObject]
    _encoder: Callable[[str], Callable[[str], str]]
    _parse_range: Callable[[Optional[str], int], Optional[Tuple[int, int]]]

    def _init_multipart(self) -> None:
        self._uploads: Dict[str, Upload] = {}
        self._uploads_lock = threading.Lock()
        self._upload_serial = itertools.count(1)

    def _upload(self, bucket: str, key: str, params: Dict[str, str]) -> Upload:
        with self._uploads_lock:
            upload = self._uploads.get(params.get("uploadId", ""))
        if upload is None or upload.bucket != bucket or upload.key != key:
            raise OssError(
                404,
                "NoSuchUpload",
                "The specified upload does not exist. The upload ID may be invalid, "
                "or the upload may have been aborted or completed.",
                UploadId=params.get("uploadId", ""),
            )
        return upload

    def _InitiateMultipartUpload(self, req: Request, bucket: str, key: str, params: Dict[str, str]) -> Response:
        if not self.state.bucket_exists(bucket):
            if not self.auto_create_buckets:
                raise no_such_bucket(bucket)
            self.state.create_bucket(bucket)
        upload_id = "%08X%s" % (next(self._upload_serial), random_text(24, "0123456789ABCDEF"))
        upload = Upload(
            upload_id,
            bucket,
            key,
            time.time(),
            req.header("Content-Type") or "application/octet-stream",
            user_metadata(req),
        )
        with self._uploads_lock:
            self._uploads[upload_id] = upload
        return xml_response(
            200,
            '<?xml version="1.0" encoding="UTF-8"?>\n<InitiateMultipartUploadResult>'
            "<Bucket>%s</Bucket><Key>%s</Key><UploadId>%s</UploadId>"
            "</InitiateMultipartUploadResult>" % (xml_text(bucket), xml_text(key), upload_id),
        )

    @staticmethod
    def _part_number(params: Dict[str, str]) -> int:
        raw = params.get("partNumber", "")
        if not raw.isdigit() or not 1 <= int(raw) <= MAX_PART_NUMBER:
            raise OssError(
                400,
                "InvalidArgument",
                "Part number must be an integer between 1 and %d." % MAX_PART_NUMBER,
                ArgumentName="partNumber",
                ArgumentValue=raw,
            )
        return int(raw)

    def _store_part(self, upload: Upload, number: int, data: bytes) -> Part:
        part = Part(data, hashlib.md5(data).hexdigest().upper(), crc64(data), time.time())
        with self._uploads_lock:
            upload.parts[number] = part
        return part

    def _UploadPart(self, req: Request, bucket: str, key: str, params: Dict[str, str]) -> Response:
        upload = self._upload(bucket, key, params)
        number = self._part_number(params)
        data = read_body(req, self.max_object_size)
        content_md5 = check_content_md5(req, data)
        part = self._store_part(upload, number, data)
        return Response(
            200,
            headers=[
                ("ETag", '"%s"' % part.etag),
                ("x-oss-hash-crc64ecma", str(part.crc64)),
                ("Content-MD5", content_md5),
            ],
        )

    def _UploadPartCopy(self, req: Request, bucket: str, key: str, params: Dict[str, str]) -> Response:
        upload = self._upload(bucket, key, params)
        number = self._part_number(params)
        source = self._copy_source(req)
        data = source.data
        wanted = req.header("x-oss-copy-source-range")
        if wanted:
            byte_range = self._parse_range(wanted, len(data))
            if byte_range is not None:
                data = data[byte_range[0] : byte_range[1] + 1]
        part = self._store_part(upload, number, data)
        return xml_response(
            200,
            '<?xml version="1.0" encoding="UTF-8"?>\n<CopyPartResult><LastModified>%s'
            '</LastModified><ETag>"%s"</ETag></CopyPartResult>' % (iso(part.last_modified), part.etag),
            [("ETag", '"%s"' % part.etag), ("x-oss-hash-crc64ecma", str(part.crc64))],
        )

    def _CompleteMultipartUpload(self, req: Request, bucket: str, key: str, params: Dict[str, str]) -> Response:
        upload = self._upload(bucket, key, params)
        body = read_body(req, 16 * 1024 * 1024)
        with self._uploads_lock:
            stored = dict(upload.parts)
        if (req.header("x-oss-complete-all") or "").lower() == "yes":
            if body:
                raise OssError(400, "InvalidArgument", "Should not specify both complete all header and body.")
            chosen = sorted(stored)
        else:
            chosen = self._listed_parts(body, stored)
        for number in chosen[:-1]:
            if len(stored[number].data) < MIN_PART_SIZE:
                raise OssError(
                    400,
                    "EntityTooSmall",
                    "Your proposed upload is smaller than the minimum allowed size.",
                    PartNumber=str(number),
                )
        data = b"".join(stored[n].data for n in chosen)
        etag = "%s-%d" % (
            hashlib.md5(b"".join(bytes.fromhex(stored[n].etag) for n in chosen)).hexdigest().upper(),
            len(chosen),
        )
        obj = new_object(data, upload.content_type, upload.metadata, "Multipart", etag)
        with self._uploads_lock:
            if self._uploads.pop(upload.upload_id, None) is None:
                raise OssError(404, "NoSuchUpload", "The specified upload does not exist.", UploadId=upload.upload_id)
        if not self.state.put_object(bucket, key, obj, create_bucket=False):
            raise no_such_bucket(bucket)
        return xml_response(
            200,
            '<?xml version="1.0" encoding="UTF-8"?>\n<CompleteMultipartUploadResult>'
            "<Location>%s/%s/%s</Location><Bucket>%s</Bucket><Key>%s</Key>"
            '<ETag>"%s"</ETag></CompleteMultipartUploadResult>'
            % (xml_text(req.host), xml_text(bucket), xml_text(key), xml_text(bucket), xml_text(key), etag),
            write_headers(obj),
        )

    @staticmethod
    def _listed_parts(body: bytes, stored: Dict[int, Part]) -> List[int]:
        """The part numbers the CompleteMultipartUpload body lists, in order; each must exist with its ETag."""
        try:
            root = ElementTree.fromstring(body)
            listed = [
                (int(p.findtext("PartNumber", "")), (p.findtext("ETag") or "").strip().strip('"').upper())
                for p in root.findall("Part")
            ]
        except (ElementTree.ParseError, ValueError):
            raise OssError(400, "MalformedXML", "The XML you provided was not well-formed or did not validate.")
        if root.tag != "CompleteMultipartUpload" or not listed:
            raise OssError(400, "MalformedXML", "The XML you provided was not well-formed or did not validate.")
        numbers = [n for n, _ in listed]
        if any(b <= a for a, b in zip(numbers, numbers[1:])):
            raise OssError(400, "InvalidPartOrder", "The list of parts was not in ascending order.")
        for number, etag in listed:
            part = stored.get(number)
            if part is None or part.etag != etag:
                raise OssError(
                    400,
                    "InvalidPart",
                    "One or more of the specified parts could not be found or the "
                    "specified entity tag might not have matched the part's entity "
                    "tag.",
                    PartNumber=str(number),
                    ETag=etag,
                )
        return numbers

    def _AbortMultipartUpload(self, req: Request, bucket: str, key: str, params: Dict[str, str]) -> Response:
        upload = self._upload(bucket, key, params)
        with self._uploads_lock:
            self._uploads.pop(upload.upload_id, None)
        return Response(204)

    def _ListParts(self, req: Request, bucket: str, key: str, params: Dict[str, str]) -> Response:
        upload = self._upload(bucket, key, params)
        marker = int(params.get("part-number-marker") or 0)
        max_parts = int(params.get("max-parts") or 1000)
        with self._uploads_lock:
            numbers = sorted(n for n in upload.parts if n > marker)
            parts = [(n, upload.parts[n]) for n in numbers[:max_parts]]
        truncated = len(numbers) > max_parts
        out = [
            '<?xml version="1.0" encoding="UTF-8"?>\n<ListPartsResult>',
            "<Bucket>%s</Bucket><Key>%s</Key><UploadId>%s</UploadId><PartNumberMarker>%d</PartNumberMarker>"
            "<NextPartNumberMarker>%d</NextPartNumberMarker><MaxParts>%d</MaxParts><IsTruncated>%s</IsTruncated>"
            % (
                xml_text(bucket),
                xml_text(key),
                upload.upload_id,
                marker,
                parts[-1][0] if parts else marker,
                max_parts,
                str(truncated).lower(),
            ),
        ]
        for number, part in parts:
            out.append(
                '<Part><PartNumber>%d</PartNumber><LastModified>%s</LastModified><ETag>"%s"</ETag>'
                "<Size>%d</Size></Part>" % (number, iso(part.last_modified), part.etag, len(part.data))
            )
        out.append("</ListPartsResult>")
        return xml_response(200, "".join(out))

    def _ListMultipartUploads(self, req: Request, bucket: str, key: str, params: Dict[str, str]) -> Response:
        if not self.state.bucket_exists(bucket):
            raise no_such_bucket(bucket)
        prefix, delimiter = params.get("prefix", ""), params.get("delimiter", "")
        key_marker, id_marker = params.get("key-marker", ""), params.get("upload-id-marker", "")
        max_uploads = int(params.get("max-uploads") or 1000)
        enc = self._encoder(params.get("encoding-type", ""))
        with self._uploads_lock:
            uploads = sorted((u.key, u.upload_id, u.initiated) for u in self._uploads.values() if u.bucket == bucket)
        entries: List[Tuple[str, str, float]] = []
        prefixes: List[str] = []
        truncated, next_key, next_id = False, "", ""
        for name, upload_id, initiated in uploads:
            if not name.startswith(prefix) or (name, upload_id) <= (key_marker, id_marker if id_marker else "~"):
                continue
            common = None
            if delimiter and delimiter in name[len(prefix) :]:
                common = name[: name.index(delimiter, len(prefix)) + len(delimiter)]
                if prefixes and prefixes[-1] == common:
                    continue
            if len(entries) + len(prefixes) >= max_uploads:
                truncated = True
                break
            if common is not None:
                prefixes.append(common)
            else:
                entries.append((name, upload_id, initiated))
            next_key, next_id = name, upload_id
        out = [
            '<?xml version="1.0" encoding="UTF-8"?>\n<ListMultipartUploadsResult>',
            "<Bucket>%s</Bucket><KeyMarker>%s</KeyMarker><UploadIdMarker>%s</UploadIdMarker>"
            "<NextKeyMarker>%s</NextKeyMarker><NextUploadIdMarker>%s</NextUploadIdMarker>"
            "<Delimiter>%s</Delimiter><Prefix>%s</Prefix><MaxUploads>%d</MaxUploads><IsTruncated>%s</IsTruncated>"
            % (
                xml_text(bucket),
                enc(key_marker),
                xml_text(id_marker),
                enc(next_key if truncated else ""),
                next_id if truncated else "",
                enc(delimiter),
                enc(prefix),
                max_uploads,
                str(truncated).lower(),
            ),
        ]
        if params.get("encoding-type"):
            out.append("<EncodingType>%s</EncodingType>" % xml_text(params["encoding-type"]))
        for name, upload_id, initiated in entries:
            out.append(
                "<Upload><Key>%s</Key><UploadId>%s</UploadId><StorageClass>Standard</StorageClass>"
                "<Initiated>%s</Initiated></Upload>" % (enc(name), upload_id, iso(initiated))
            )
        for common in prefixes:
            out.append("<CommonPrefixes><Prefix>%s</Prefix></CommonPrefixes>" % enc(common))
        out.append("</ListMultipartUploadsResult>")
        return xml_response(200, "".join(out))

    def uploads_in_progress(self, bucket: Optional[str] = None) -> List[str]:
        """Upload ids not yet completed or aborted (for tests)."""
        with self._uploads_lock:
            return sorted(u.upload_id for u in self._uploads.values() if bucket is None or u.bucket == bucket)
