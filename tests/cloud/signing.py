"""Server-side signature computation, written from the published algorithms.

Nothing here imports SDK code: the emulator must notice a client that signs
wrongly, so it has to compute the expected signature independently.

* RPC signature V1 (HMAC-SHA1, "SignatureVersion=1.0"), used by aliyunsdkcore
  and by tea-openapi with signature_algorithm='v2'; the same string to sign
  signed with RSA by an application client key (SHA256withRSA).
* ACS3-HMAC-SHA256 (Alibaba Cloud API signature V3), tea-openapi's default.
* OSS signature V1 ("Authorization: OSS id:sig"), V2 ("OSS2 AccessKeyId:id,Signature:sig") and V4
  ("OSS4-HMAC-SHA256"), each also as a query string (presigned URLs): the same string to sign, with the
  expiry in place of the date and the signature parameters left out.
"""

import base64
import hashlib
import hmac
from typing import Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple
from urllib.parse import quote


def percent_encode(text: str) -> str:
    """RFC 3986 encoding: A-Z a-z 0-9 - _ . ~ stay, everything else is %XX (upper-case) of its UTF-8 bytes."""
    return quote(text, safe="~")


def _hmac(key: bytes, msg: str, digest) -> bytes:
    return hmac.new(key, msg.encode("utf-8"), digest).digest()


# ---- RPC V1 ------------------------------------------------------------------------------------------------------


def rpc_v1_string_to_sign(method: str, params: Mapping[str, str]) -> str:
    """METHOD&%2F&percentEncode(k1=v1&k2=v2...) with the pairs sorted by name; `Signature` excluded."""
    pairs = sorted((k, v) for k, v in params.items() if k != "Signature")
    canonical = "&".join(percent_encode(k) + "=" + percent_encode(v) for k, v in pairs)
    return method.upper() + "&" + percent_encode("/") + "&" + percent_encode(canonical)


def rpc_v1_signature(string_to_sign: str, access_key_secret: str) -> str:
    return base64.b64encode(_hmac((access_key_secret + "&").encode("utf-8"), string_to_sign, hashlib.sha1)).decode()


def rpc_rsa_signature_valid(string_to_sign: str, signature: bytes, public_key) -> bool:
    """A client key's RPC signature (SignatureMethod=SHA256withRSA, SignatureType=PRIVATEKEY): RSA PKCS#1 v1.5
    over SHA-256 of the same string to sign as HMAC-SHA1's, checked with the client key's public half."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    try:
        public_key.verify(signature, string_to_sign.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True


# ---- ACS3-HMAC-SHA256 --------------------------------------------------------------------------------------------

ACS3_ALGORITHM = "ACS3-HMAC-SHA256"


def parse_acs3_authorization(value: str) -> Optional[Dict[str, str]]:
    """`ACS3-HMAC-SHA256 Credential=AK,SignedHeaders=a;b,Signature=hex` -> dict with algorithm and the three fields."""
    algorithm, _, rest = value.strip().partition(" ")
    if not algorithm.startswith("ACS3-"):
        return None
    fields = {"algorithm": algorithm}
    for part in rest.split(","):
        name, sep, val = part.strip().partition("=")
        if sep:
            fields[name] = val
    if not all(fields.get(k) for k in ("Credential", "SignedHeaders", "Signature")):
        return None
    return fields


def canonical_query_rfc3986(pairs: Iterable[Tuple[str, str]]) -> str:
    encoded = sorted((percent_encode(k), percent_encode(v)) for k, v in pairs)
    return "&".join(k + "=" + v for k, v in encoded)


def acs3_canonical_request(
    method: str,
    canonical_uri: str,
    query_pairs: Iterable[Tuple[str, str]],
    header_values: Callable[[str], List[str]],
    signed_headers: Sequence[str],
    hashed_payload: str,
) -> str:
    """header_values(lower_name) -> the request's values for that header (empty list when absent)."""
    lines = []
    for name in signed_headers:
        values = sorted(v.strip() for v in header_values(name))
        lines.append(name + ":" + ",".join(values) + "\n")
    return "\n".join(
        [
            method.upper(),
            canonical_uri or "/",
            canonical_query_rfc3986(query_pairs),
            "".join(lines),
            ";".join(signed_headers),
            hashed_payload,
        ]
    )


def acs3_string_to_sign(canonical_request: str, algorithm: str = ACS3_ALGORITHM) -> str:
    return algorithm + "\n" + hashlib.sha256(canonical_request.encode("utf-8")).hexdigest()


def acs3_signature(string_to_sign: str, access_key_secret: str) -> str:
    return _hmac(access_key_secret.encode("utf-8"), string_to_sign, hashlib.sha256).hex()


# ---- OSS V1 ------------------------------------------------------------------------------------------------------

# Query parameters that are part of the V1 canonicalized resource (the OSS "sub-resources").
OSS_V1_SUBRESOURCES = frozenset(
    """
    acl uploads location cors logging website referer lifecycle delete append tagging objectMeta uploadId
    partNumber security-token position img style styleName replication replicationProgress replicationLocation
    cname bucketInfo comp qos live status vod startTime endTime symlink x-oss-process
    response-content-type response-content-language response-expires response-cache-control
    response-content-disposition response-content-encoding udf udfName udfImage udfId udfImageDesc
    udfApplication udfApplicationLog restore callback callback-var qosInfo policy stat encryption versions
    versioning versionId requestPayment x-oss-request-payer sequential inventory inventoryId continuation-token
    asyncFetch worm wormId wormExtend objectInfo link group transferAcceleration metaQuery resourceGroup
    regionList x-oss-traffic-limit x-oss-ac-source-ip x-oss-ac-subnet-mask x-oss-ac-vpc-id x-oss-ac-forward-allow
    x-oss-async-process x-oss-write-get-object-response accessPoint accessPointPolicy publicAccessBlock
    x-oss-access-point-name httpsConfig redundancyTransition x-oss-target-redundancy-type
    x-oss-redundancy-transition-taskid bucketArchiveDirectRead
""".split()
)


def parse_oss_v1_authorization(value: str) -> Optional[Tuple[str, str]]:
    """`OSS <AccessKeyId>:<Signature>` -> (id, signature)."""
    scheme, _, rest = value.strip().partition(" ")
    if scheme != "OSS":
        return None
    access_key_id, sep, signature = rest.strip().rpartition(":")
    if not sep or not access_key_id or not signature:
        return None
    return access_key_id, signature


def oss_v1_canonical_resource(bucket: Optional[str], key: Optional[str], query_pairs: Iterable[Tuple[str, str]]) -> str:
    resource = "/" if not bucket else "/%s/%s" % (bucket, key or "")
    subs = sorted((k, v) for k, v in query_pairs if k in OSS_V1_SUBRESOURCES)
    if subs:
        resource += "?" + "&".join(k + "=" + v if v else k for k, v in subs)
    return resource


def oss_v1_string_to_sign(method: str, headers: Mapping[str, str], canonical_resource: str) -> str:
    """headers: lower-case names -> values.

    VERB \\n Content-MD5 \\n Content-Type \\n Date \\n CanonicalizedOSSHeaders CanonicalizedResource
    (Date is replaced by x-oss-date when the request carries one.)
    """
    oss_headers = sorted((k, v.strip()) for k, v in headers.items() if k.startswith("x-oss-"))
    canonical_headers = "".join(k + ":" + v + "\n" for k, v in oss_headers)
    date = headers.get("x-oss-date") or headers.get("date", "")
    return "\n".join(
        [
            method.upper(),
            headers.get("content-md5", ""),
            headers.get("content-type", ""),
            date,
            canonical_headers + canonical_resource,
        ]
    )


def oss_v1_signature(string_to_sign: str, access_key_secret: str) -> str:
    return base64.b64encode(_hmac(access_key_secret.encode("utf-8"), string_to_sign, hashlib.sha1)).decode()


# ---- OSS V2 ------------------------------------------------------------------------------------------------------


def parse_oss_v2_authorization(value: str) -> Optional[Dict[str, object]]:
    """`OSS2 AccessKeyId:id,AdditionalHeaders:a;b,Signature:sig` -> dict(access_key_id, additional_headers,
    signature)."""
    scheme, _, rest = value.strip().partition(" ")
    if scheme != "OSS2":
        return None
    fields = {}
    for part in rest.split(","):
        name, sep, val = part.strip().partition(":")
        if sep:
            fields[name.strip()] = val.strip()
    if not fields.get("AccessKeyId") or not fields.get("Signature"):
        return None
    additional = [h.strip().lower() for h in fields.get("AdditionalHeaders", "").split(";") if h.strip()]
    return {
        "access_key_id": fields["AccessKeyId"],
        "additional_headers": sorted(additional),
        "signature": fields["Signature"],
    }


def oss_v2_uri_encode(text: str) -> str:
    """Everything but A-Z a-z 0-9 - _ . ~ is %XX, the slash included."""
    return quote(text, safe="~")


def oss_v2_string_to_sign(
    method: str,
    headers: Mapping[str, str],
    date: str,
    bucket: Optional[str],
    key: Optional[str],
    query_pairs: Iterable[Tuple[str, str]],
    additional_headers: Sequence[str],
) -> str:
    """headers: lower-case names -> values. Every query parameter is signed (the caller leaves out the
    signature's own); `date` is the Date header, or the expiry of a presigned URL.

    VERB \n Content-MD5 \n Content-Type \n Date \n CanonicalizedOSSHeaders AdditionalHeaders \n Resource
    """
    signed = sorted((k, v.strip()) for k, v in headers.items() if k.startswith("x-oss-") or k in additional_headers)
    canonical_headers = "".join(k + ":" + v + "\n" for k, v in signed)
    resource = oss_v2_uri_encode("/%s/%s" % (bucket, key or "") if bucket else "/")
    encoded = sorted((oss_v2_uri_encode(k), oss_v2_uri_encode(v)) for k, v in query_pairs)
    if encoded:
        resource += "?" + "&".join(k + "=" + v if v else k for k, v in encoded)
    return "\n".join(
        [
            method.upper(),
            headers.get("content-md5", ""),
            headers.get("content-type", ""),
            date,
            canonical_headers + ";".join(sorted(additional_headers)),
            resource,
        ]
    )


def oss_v2_signature(string_to_sign: str, access_key_secret: str) -> str:
    return base64.b64encode(_hmac(access_key_secret.encode("utf-8"), string_to_sign, hashlib.sha256)).decode()


# ---- OSS V4 ------------------------------------------------------------------------------------------------------

OSS_V4_ALGORITHM = "OSS4-HMAC-SHA256"
OSS_V4_DEFAULT_SIGNED = ("content-type", "content-md5")


def parse_oss_v4_authorization(value: str) -> Optional[Dict[str, object]]:
    """`OSS4-HMAC-SHA256 Credential=AK/20250101/cn-hangzhou/oss/aliyun_v4_request, AdditionalHeaders=a;b,
    Signature=hex` -> dict(access_key_id, date, region, product, additional_headers, signature)."""
    algorithm, _, rest = value.strip().partition(" ")
    if algorithm != OSS_V4_ALGORITHM:
        return None
    fields = {}
    for part in rest.split(","):
        name, sep, val = part.strip().partition("=")
        if sep:
            fields[name.strip()] = val.strip()
    scope = fields.get("Credential", "").split("/")
    if len(scope) != 5 or scope[4] != "aliyun_v4_request" or not fields.get("Signature"):
        return None
    additional = [h.strip().lower() for h in fields.get("AdditionalHeaders", "").split(";") if h.strip()]
    return {
        "access_key_id": scope[0],
        "date": scope[1],
        "region": scope[2],
        "product": scope[3],
        "additional_headers": sorted(additional),
        "signature": fields["Signature"],
    }


def oss_v4_uri_encode(text: str, keep_slash: bool) -> str:
    return quote(text, safe="~/" if keep_slash else "~")


def oss_v4_canonical_request(
    method: str,
    bucket: Optional[str],
    key: Optional[str],
    query_pairs: Iterable[Tuple[str, str]],
    headers: Mapping[str, str],
    additional_headers: Sequence[str],
) -> str:
    """headers: lower-case names -> values. Signed: x-oss-*, content-type, content-md5 and the additional ones."""
    uri = "/" if not bucket else "/%s/%s" % (bucket, key or "")
    encoded = sorted((oss_v4_uri_encode(k, False), oss_v4_uri_encode(v, False)) for k, v in query_pairs)
    query = "&".join(k + "=" + v if v else k for k, v in encoded)
    signed = [
        (k, v.strip())
        for k, v in headers.items()
        if k.startswith("x-oss-") or k in OSS_V4_DEFAULT_SIGNED or k in additional_headers
    ]
    canonical_headers = "".join(k + ":" + v + "\n" for k, v in sorted(signed))
    payload = headers.get("x-oss-content-sha256", "UNSIGNED-PAYLOAD")
    return "\n".join(
        [method.upper(), oss_v4_uri_encode(uri, True), query, canonical_headers, ";".join(additional_headers), payload]
    )


def oss_v4_scope(date: str, region: str, product: str = "oss") -> str:
    return "%s/%s/%s/aliyun_v4_request" % (date, region, product)


def oss_v4_string_to_sign(canonical_request: str, timestamp: str, scope: str) -> str:
    return "\n".join(
        [OSS_V4_ALGORITHM, timestamp, scope, hashlib.sha256(canonical_request.encode("utf-8")).hexdigest()]
    )


def oss_v4_signature(string_to_sign: str, access_key_secret: str, date: str, region: str, product: str = "oss") -> str:
    key = ("aliyun_v4" + access_key_secret).encode("utf-8")
    for part in (date, region, product, "aliyun_v4_request"):
        key = _hmac(key, part, hashlib.sha256)
    return hmac.new(key, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


def constant_time_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))
