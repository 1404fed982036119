"""OSS listings: ListBuckets, ListObjects, ListObjectsV2 (prefix, delimiter, markers and continuation tokens,
max-keys, encoding-type=url). A mixin of OssService: it uses the service's `state` and `region_id`."""

from typing import Dict, List, Tuple
from urllib.parse import quote

from .oss_common import OssError, iso, no_such_bucket, xml_response, xml_text
from .records import StoredObject
from .server import Response
from .state import CloudState

OWNER_ID = "1234567890123456"


class ListingOps:
    state: CloudState
    region_id: str

    def _ListBuckets(self, req, bucket, key, params) -> Response:
        prefix, marker = params.get("prefix", ""), params.get("marker", "")
        max_keys = self._max_keys(params)
        names = [(n, t) for n, t in self.state.list_buckets() if n.startswith(prefix) and n > marker]
        page, truncated = names[:max_keys], len(names) > max_keys
        parts = [
            '<?xml version="1.0" encoding="UTF-8"?>\n<ListAllMyBucketsResult>',
            "<Owner><ID>%s</ID><DisplayName>%s</DisplayName></Owner>" % (OWNER_ID, OWNER_ID),
        ]
        if prefix or marker or "max-keys" in params:
            parts.append(
                "<Prefix>%s</Prefix><Marker>%s</Marker><MaxKeys>%d</MaxKeys><IsTruncated>%s</IsTruncated>"
                % (xml_text(prefix), xml_text(marker), max_keys, str(truncated).lower())
            )
            if truncated:
                parts.append("<NextMarker>%s</NextMarker>" % xml_text(page[-1][0]))
        parts.append("<Buckets>")
        for name, created in page:
            parts.append(
                "<Bucket><CreationDate>%s</CreationDate><ExtranetEndpoint>oss-%s.aliyuncs.com"
                "</ExtranetEndpoint><IntranetEndpoint>oss-%s-internal.aliyuncs.com</IntranetEndpoint>"
                "<Location>oss-%s</Location><Name>%s</Name><Region>%s</Region>"
                "<StorageClass>Standard</StorageClass></Bucket>"
                % (iso(created), self.region_id, self.region_id, self.region_id, xml_text(name), self.region_id)
            )
        parts.append("</Buckets></ListAllMyBucketsResult>")
        return xml_response(200, "".join(parts))

    def _ListObjects(self, req, bucket, key, params) -> Response:
        prefix, marker, delimiter, encoding = (
            params.get(n, "") for n in ("prefix", "marker", "delimiter", "encoding-type")
        )
        max_keys = self._max_keys(params)
        contents, prefixes, truncated, last = self._collect(bucket, prefix, marker, delimiter, max_keys)
        enc = self._encoder(encoding)
        parts = [
            '<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult>',
            "<Name>%s</Name><Prefix>%s</Prefix><Marker>%s</Marker><MaxKeys>%d</MaxKeys>"
            "<Delimiter>%s</Delimiter>" % (xml_text(bucket), enc(prefix), enc(marker), max_keys, enc(delimiter)),
        ]
        if encoding:
            parts.append("<EncodingType>%s</EncodingType>" % xml_text(encoding))
        parts.append("<IsTruncated>%s</IsTruncated>" % str(truncated).lower())
        if truncated:
            parts.append("<NextMarker>%s</NextMarker>" % enc(last))
        parts += self._listing_entries(contents, prefixes, enc, owner=True)
        parts.append("</ListBucketResult>")
        return xml_response(200, "".join(parts))

    def _ListObjectsV2(self, req, bucket, key, params) -> Response:
        prefix, delimiter, encoding = (params.get(n, "") for n in ("prefix", "delimiter", "encoding-type"))
        start_after, token = params.get("start-after", ""), params.get("continuation-token", "")
        max_keys = self._max_keys(params)
        after = max(start_after, token)
        contents, prefixes, truncated, last = self._collect(bucket, prefix, after, delimiter, max_keys)
        enc = self._encoder(encoding)
        parts = [
            '<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult>',
            "<Name>%s</Name><Prefix>%s</Prefix><MaxKeys>%d</MaxKeys><Delimiter>%s</Delimiter>"
            % (xml_text(bucket), enc(prefix), max_keys, enc(delimiter)),
        ]
        if start_after:
            parts.append("<StartAfter>%s</StartAfter>" % enc(start_after))
        if token:
            parts.append("<ContinuationToken>%s</ContinuationToken>" % enc(token))
        if encoding:
            parts.append("<EncodingType>%s</EncodingType>" % xml_text(encoding))
        parts.append(
            "<IsTruncated>%s</IsTruncated><KeyCount>%d</KeyCount>"
            % (str(truncated).lower(), len(contents) + len(prefixes))
        )
        if truncated:
            parts.append("<NextContinuationToken>%s</NextContinuationToken>" % enc(last))
        parts += self._listing_entries(contents, prefixes, enc, owner=params.get("fetch-owner") == "true")
        parts.append("</ListBucketResult>")
        return xml_response(200, "".join(parts))

    def _collect(self, bucket, prefix, after, delimiter, max_keys):
        """Keys under prefix and after `after`, common prefixes folded by delimiter, at most max_keys entries.
        -> (contents, common prefixes, truncated, last key consumed: the next marker/token)."""
        listing = self.state.list_objects(bucket)
        if listing is None:
            raise no_such_bucket(bucket)
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
                    common = name[: cut + len(delimiter)]
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
            return lambda s: xml_text(quote(s, safe="/"))
        return xml_text

    @staticmethod
    def _listing_entries(contents, prefixes, enc, owner: bool) -> List[str]:
        parts = []
        owner_xml = "<Owner><ID>%s</ID><DisplayName>%s</DisplayName></Owner>" % (OWNER_ID, OWNER_ID) if owner else ""
        for name, obj in contents:
            parts.append(
                '<Contents><Key>%s</Key><LastModified>%s</LastModified><ETag>"%s"</ETag>'
                "<Type>Normal</Type><Size>%d</Size><StorageClass>Standard</StorageClass>%s</Contents>"
                % (enc(name), iso(obj.last_modified), obj.etag, len(obj.data), owner_xml)
            )
        for common in prefixes:
            parts.append("<CommonPrefixes><Prefix>%s</Prefix></CommonPrefixes>" % enc(common))
        return parts

    @staticmethod
    def _max_keys(params: Dict[str, str]) -> int:
        raw = params.get("max-keys", "")
        if raw == "":
            return 100
        if not raw.isdigit() or not 0 < int(raw) <= 1000:
            raise OssError(400, "InvalidArgument", "Argument max-keys must be an integer between 1 and 1000.")
        return int(raw)
