"""Who sent an OSS request, and did they sign it right: header signatures V1, V2 and V4, and the same three as
query strings (presigned URLs), whose expiry is enforced. A revoked, disabled or unknown key gets the same error
whichever way the request was signed, as in the cloud."""

import calendar
import email.utils
import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

from . import signing
from .oss_common import OssError
from .records import AccessKey
from .server import Request
from .state import (
    KEY_INACTIVE,
    KEY_NOT_FOUND,
    TOKEN_EXPIRED,
    TOKEN_MALFORMED,
    TOKEN_MISMATCH,
    TOKEN_MISSING,
    TOKEN_UNEXPECTED,
    CloudState,
)

MAX_SKEW = 15 * 60
MAX_V4_EXPIRES = 7 * 24 * 3600

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

# Query parameters of a presigned URL that are the signature itself (never part of what is signed).
_QUERY_SIGNATURE = {"v1": "Signature", "v2": "x-oss-signature", "v4": "x-oss-signature"}
_QUERY_TOKEN = {"v1": "security-token", "v2": "security-token", "v4": "x-oss-security-token"}


@dataclass
class Claim:
    """What a request says about its signer, before anything is checked."""

    version: str  # v1 | v2 | v4
    in_query: bool
    access_key_id: str
    signature: str
    additional_headers: List[str] = field(default_factory=list)
    scope: Optional[Dict[str, str]] = None  # V4: date, region, product


def parse_claim(req: Request, query: Sequence[Tuple[str, str]]) -> Optional[Claim]:
    """The signature a request carries (Authorization header first, else the query string); None if unsigned."""
    auth = req.header("Authorization")
    if auth:
        v1 = signing.parse_oss_v1_authorization(auth)
        if v1:
            return Claim("v1", False, v1[0], v1[1])
        v2 = signing.parse_oss_v2_authorization(auth)
        if v2:
            return Claim("v2", False, v2["access_key_id"], v2["signature"], list(v2["additional_headers"]))
        v4 = signing.parse_oss_v4_authorization(auth)
        if v4:
            return Claim(
                "v4",
                False,
                v4["access_key_id"],
                v4["signature"],
                list(v4["additional_headers"]),
                {k: v4[k] for k in ("date", "region", "product")},
            )
        raise OssError(400, "InvalidArgument", "Authorization header is invalid.")
    params = dict(query)
    version = params.get("x-oss-signature-version")
    if version == signing.OSS_V4_ALGORITHM:
        scope = params.get("x-oss-credential", "").split("/")
        if len(scope) != 5 or scope[4] != "aliyun_v4_request" or not params.get("x-oss-signature"):
            raise OssError(400, "InvalidArgument", "Invalid x-oss-credential or x-oss-signature.")
        return Claim(
            "v4",
            True,
            scope[0],
            params["x-oss-signature"],
            _header_list(params),
            {"date": scope[1], "region": scope[2], "product": scope[3]},
        )
    if version == "OSS2":
        if not params.get("x-oss-access-key-id") or not params.get("x-oss-signature"):
            raise OssError(400, "InvalidArgument", "Invalid x-oss-access-key-id or x-oss-signature.")
        return Claim("v2", True, params["x-oss-access-key-id"], params["x-oss-signature"], _header_list(params))
    if "OSSAccessKeyId" in params or "Signature" in params:
        return Claim("v1", True, params.get("OSSAccessKeyId", ""), params.get("Signature", ""))
    return None


def _header_list(params: Dict[str, str]) -> List[str]:
    return sorted(h.strip().lower() for h in params.get("x-oss-additional-headers", "").split(";") if h.strip())


class OssAuthenticator:
    def __init__(self, state: CloudState, region_id: str):
        self.state = state
        self.region_id = region_id

    def authenticate(
        self,
        req: Request,
        claim: Optional[Claim],
        bucket: Optional[str],
        key: Optional[str],
        query: Sequence[Tuple[str, str]],
    ) -> AccessKey:
        if claim is None:
            raise OssError(403, "AccessDenied", "AccessDenied: anonymous access is not allowed by the emulator.")
        params = dict(query)
        if claim.in_query:
            self._check_expiry(claim, params)
            token = params.get(_QUERY_TOKEN[claim.version])
            signed_query = [(k, v) for k, v in query if k != _QUERY_SIGNATURE[claim.version]]
        else:
            token = req.header("x-oss-security-token")
            signed_query = list(query)
        access_key, problem = self.state.check_key(claim.access_key_id, token)
        if problem is not None:
            status, code, message = KEY_ERRORS[problem]
            raise OssError(status, code, message, OSSAccessKeyId=claim.access_key_id)
        headers = req.lower_headers()
        if claim.version == "v1":
            self._verify_v1(req, headers, claim, params, bucket, key, signed_query, access_key)
        elif claim.version == "v2":
            self._verify_v2(req, headers, claim, params, bucket, key, signed_query, access_key)
        else:
            self._verify_v4(req, headers, claim, params, bucket, key, signed_query, access_key)
        return access_key

    # ---- dates -------------------------------------------------------------------------------------------------

    @staticmethod
    def _check_skew(when: Optional[float]) -> None:
        if when is None:
            raise OssError(403, "AccessDenied", "Invalid date or x-oss-date header.")
        if abs(time.time() - when) > MAX_SKEW:
            raise OssError(
                403,
                "RequestTimeTooSkewed",
                "The difference between the request time and the current time is too large.",
            )

    @staticmethod
    def _http_date(value: Optional[str]) -> Optional[float]:
        try:
            return email.utils.parsedate_to_datetime(value).timestamp() if value else None
        except (TypeError, ValueError):
            return None

    @staticmethod
    def _v4_time(value: str) -> Optional[float]:
        try:
            return calendar.timegm(time.strptime(value, "%Y%m%dT%H%M%SZ"))
        except ValueError:
            return None

    def _check_expiry(self, claim: Claim, params: Dict[str, str]) -> None:
        """A presigned URL is good until its expiry: V1 `Expires` and V2 `x-oss-expires` are epoch seconds,
        V4 `x-oss-expires` is a number of seconds after `x-oss-date`."""
        raw = params.get({"v1": "Expires"}.get(claim.version, "x-oss-expires"), "")
        if not raw.isdigit():
            raise OssError(403, "AccessDenied", "Invalid expires argument in the query string.")
        expires = int(raw)
        if claim.version == "v4":
            signed_at = self._v4_time(params.get("x-oss-date", ""))
            if signed_at is None:
                raise OssError(403, "AccessDenied", "Invalid x-oss-date in the query string.")
            if expires > MAX_V4_EXPIRES:
                raise OssError(400, "InvalidArgument", "x-oss-expires must be at most %d." % MAX_V4_EXPIRES)
            expires += int(signed_at)
        now = int(time.time())
        if now > expires:
            raise OssError(403, "AccessDenied", "Request has expired.", Expires=str(expires), ServerTime=str(now))

    # ---- signatures --------------------------------------------------------------------------------------------

    @staticmethod
    def _mismatch(access_key: AccessKey, provided: str, string_to_sign: str, **extra: str) -> OssError:
        return OssError(
            403,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the "
            "signature you provided. Check your key and signing method.",
            OSSAccessKeyId=access_key.access_key_id,
            SignatureProvided=provided,
            StringToSign=string_to_sign,
            **extra,
        )

    def _verify_v1(
        self,
        req: Request,
        headers: Dict[str, str],
        claim: Claim,
        params: Dict[str, str],
        bucket: Optional[str],
        key: Optional[str],
        signed_query: List[Tuple[str, str]],
        access_key: AccessKey,
    ) -> None:
        if claim.in_query:
            headers = dict(headers, date=params["Expires"])
        else:
            self._check_skew(self._http_date(headers.get("x-oss-date") or headers.get("date")))
        resource = signing.oss_v1_canonical_resource(bucket, key, signed_query)
        string_to_sign = signing.oss_v1_string_to_sign(req.method, headers, resource)
        expected = signing.oss_v1_signature(string_to_sign, access_key.access_key_secret)
        if not signing.constant_time_equal(claim.signature, expected):
            raise self._mismatch(
                access_key,
                claim.signature,
                string_to_sign,
                StringToSignBytes=" ".join("%02x" % b for b in string_to_sign.encode("utf-8")),
            )

    def _verify_v2(
        self,
        req: Request,
        headers: Dict[str, str],
        claim: Claim,
        params: Dict[str, str],
        bucket: Optional[str],
        key: Optional[str],
        signed_query: List[Tuple[str, str]],
        access_key: AccessKey,
    ) -> None:
        if claim.in_query:
            date = params["x-oss-expires"]
        else:
            date = headers.get("date", "")
            self._check_skew(self._http_date(date))
        string_to_sign = signing.oss_v2_string_to_sign(
            req.method, headers, date, bucket, key, signed_query, claim.additional_headers
        )
        expected = signing.oss_v2_signature(string_to_sign, access_key.access_key_secret)
        if not signing.constant_time_equal(claim.signature, expected):
            raise self._mismatch(access_key, claim.signature, string_to_sign)

    def _verify_v4(
        self,
        req: Request,
        headers: Dict[str, str],
        claim: Claim,
        params: Dict[str, str],
        bucket: Optional[str],
        key: Optional[str],
        signed_query: List[Tuple[str, str]],
        access_key: AccessKey,
    ) -> None:
        timestamp = params.get("x-oss-date", "") if claim.in_query else headers.get("x-oss-date", "")
        if not claim.in_query:
            self._check_skew(self._v4_time(timestamp))
        scope = claim.scope
        where = "the query string" if claim.in_query else "Authorization header"
        if scope["date"] != timestamp[:8]:
            raise OssError(400, "InvalidArgument", "Invalid signing date in %s." % where)
        if scope["region"] != self.region_id:
            raise OssError(400, "InvalidArgument", "Invalid signing region in %s." % where)
        if scope["product"] != "oss":
            raise OssError(400, "InvalidArgument", "Invalid signing product in %s." % where)
        canonical = signing.oss_v4_canonical_request(
            req.method, bucket, key, signed_query, headers, claim.additional_headers
        )
        scope_text = signing.oss_v4_scope(scope["date"], scope["region"], scope["product"])
        string_to_sign = signing.oss_v4_string_to_sign(canonical, timestamp, scope_text)
        expected = signing.oss_v4_signature(
            string_to_sign, access_key.access_key_secret, scope["date"], scope["region"], scope["product"]
        )
        if not signing.constant_time_equal(claim.signature.lower(), expected):
            raise self._mismatch(access_key, claim.signature, string_to_sign, CanonicalRequest=canonical)
