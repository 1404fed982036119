"""Who sent a Log Service request, and did they sign it right: signature v1 and v4, as aliyun-log-python-sdk signs.

v1: `Authorization: LOG <AccessKeyId>:base64(HMAC-SHA1(secret, StringToSign))`

    StringToSign = VERB \\n Content-MD5 \\n Content-Type \\n Date \\n
                   "name:value\\n" per x-log-* / x-acs-* header, sorted (not x-log-meta-*, not x-log-date: the SDK adds
                   x-log-date, a copy of Date, after signing) + resource [? k=v&... sorted by name, values as sent]

v4: `Authorization: SLS4-HMAC-SHA256 Credential=<AccessKeyId>/<yyyymmdd>/<region>/sls/aliyun_v4_request,Signature=<hex>`
over a canonical request (VERB, resource, sorted query with RFC 3986 values, the content-type, host, x-log-* and x-acs-*
headers, their names, x-log-content-sha256), signed with a key derived as OSS V4 derives it, product "sls".

An STS key's token travels in `x-acs-security-token`. Every refusal is a 401 (the Go SDK treats any 401 as a token
error): 401 Unauthorized "AccessKeyId not found: <id>" for an unknown or deleted key (the service's answer in
aliyun-log-go-sdk's end-to-end test), 401 SignatureNotMatch for a wrong signature.
"""

import base64
import calendar
import email.utils
import hashlib
import hmac
import time
from typing import Callable, Dict, List, Optional, Tuple
from urllib.parse import quote

from . import signing
from . import state as reasons
from .records import AccessKey
from .sls_codec import BodyError
from .state import CloudState

MAX_SKEW = 15 * 60
V4_ALGORITHM = "SLS4-HMAC-SHA256"
_BAD_TOKEN = "The security token you provided is invalid."
# check_key() reasons -> (HTTP status, code, message); "%s" is the AccessKeyId.
KEY_ERRORS = {
    reasons.KEY_NOT_FOUND: (401, "Unauthorized", "AccessKeyId not found: %s"),
    reasons.KEY_INACTIVE: (401, "Unauthorized", "AccessKeyId is disabled: %s"),
    reasons.TOKEN_MISSING: (401, "Unauthorized", "AccessKeyId not found: %s"),
    reasons.TOKEN_UNEXPECTED: (401, "Unauthorized", _BAD_TOKEN),
    reasons.TOKEN_MISMATCH: (401, "Unauthorized", _BAD_TOKEN),
    reasons.TOKEN_MALFORMED: (401, "Unauthorized", _BAD_TOKEN),
    reasons.TOKEN_EXPIRED: (401, "SecurityTokenExpired", "The security token you provided has expired."),
}


def _signed_header(name: str) -> bool:
    return name.startswith("x-acs-") or (name.startswith("x-log-") and not name.startswith("x-log-meta-"))


def v1_string_to_sign(method: str, headers: Dict[str, str], resource: str, query: List[Tuple[str, str]]) -> str:
    """headers: lower-case names -> values, as received."""
    canonical = "".join(
        "%s:%s\n" % (k, v) for k, v in sorted(headers.items()) if _signed_header(k) and k != "x-log-date"
    )
    if query:
        resource += "?" + "&".join("%s=%s" % (k, v) for k, v in sorted(query))
    return "\n".join(
        [
            method,
            headers.get("content-md5", ""),
            headers.get("content-type", ""),
            headers.get("date", ""),
            canonical + resource,
        ]
    )


def v1_signature(string_to_sign: str, secret: str) -> str:
    digest = hmac.new(secret.encode("utf-8"), string_to_sign.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def v4_canonical_request(method: str, headers: Dict[str, str], resource: str, query: List[Tuple[str, str]]) -> str:
    encoded = sorted((k, quote(v, safe="~")) for k, v in query)
    canonical_query = "&".join(k + ("=" + v if v else "") for k, v in encoded)
    signed = sorted((k, v.strip()) for k, v in headers.items() if k in ("content-type", "host") or _signed_header(k))
    return "\n".join(
        [
            method,
            resource,
            canonical_query,
            "".join("%s:%s\n" % kv for kv in signed),
            ";".join(k for k, _ in signed),
            headers.get("x-log-content-sha256", ""),
        ]
    )


def v4_signature(canonical_request: str, secret: str, timestamp: str, region: str) -> str:
    scope = "%s/%s/sls/aliyun_v4_request" % (timestamp[:8], region)
    string_to_sign = "\n".join(
        [V4_ALGORITHM, timestamp, scope, hashlib.sha256(canonical_request.encode("utf-8")).hexdigest()]
    )
    key = ("aliyun_v4" + secret).encode("utf-8")
    for part in (timestamp[:8], region, "sls", "aliyun_v4_request"):
        key = hmac.new(key, part.encode("utf-8"), hashlib.sha256).digest()
    return hmac.new(key, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


def parse_authorization(value: str) -> Optional[Dict[str, str]]:
    """{"version", "access_key_id", "signature"} (+ "date", "region" for v4), or None when malformed."""
    scheme, _, rest = value.strip().partition(" ")
    if scheme == "LOG":
        access_key_id, sep, signature = rest.strip().rpartition(":")
        return {"version": "v1", "access_key_id": access_key_id, "signature": signature} if sep else None
    if scheme == V4_ALGORITHM:
        fields = dict(part.strip().partition("=")[::2] for part in rest.split(","))
        scope = fields.get("Credential", "").split("/")
        if len(scope) != 5 or scope[3:] != ["sls", "aliyun_v4_request"] or not fields.get("Signature"):
            return None
        return {
            "version": "v4",
            "access_key_id": scope[0],
            "date": scope[1],
            "region": scope[2],
            "signature": fields["Signature"],
        }
    return None


class SlsAuthenticator:
    def __init__(self, state: CloudState, region_id: str) -> None:
        self.state = state
        self.region_id = region_id

    def authenticate(
        self, method: str, headers: Dict[str, str], resource: str, query: List[Tuple[str, str]], body: bytes
    ) -> AccessKey:
        """The live key that signed this request; BodyError (the service's status, code and message) otherwise."""
        auth = parse_authorization(headers.get("authorization", ""))
        if auth is None:
            raise BodyError(401, "Unauthorized", "The Authorization header is missing or malformed.")
        key, problem = self.state.check_key(auth["access_key_id"], headers.get("x-acs-security-token"))
        if problem is not None or key is None:
            status, code, message = KEY_ERRORS[problem or reasons.KEY_NOT_FOUND]
            raise BodyError(status, code, message % auth["access_key_id"] if "%s" in message else message)
        if auth["version"] == "v1":
            self._check_date(headers.get("date", ""), lambda text: email.utils.parsedate_to_datetime(text).timestamp())
            expected = v1_signature(v1_string_to_sign(method, headers, resource, query), key.access_key_secret)
        else:
            timestamp = headers.get("x-log-date", "")
            self._check_date(timestamp, lambda text: calendar.timegm(time.strptime(text, "%Y%m%dT%H%M%SZ")))
            if auth["date"] != timestamp[:8] or auth["region"] != self.region_id:
                raise BodyError(
                    401, "SignatureNotMatch", "signature scope %s/%s is not valid here" % (auth["date"], auth["region"])
                )
            if headers.get("x-log-content-sha256") != hashlib.sha256(body).hexdigest():
                raise BodyError(400, "PostBodyInvalid", "x-log-content-sha256 does not match the body.")
            canonical = v4_canonical_request(method, headers, resource, query)
            expected = v4_signature(canonical, key.access_key_secret, timestamp, self.region_id)
        if not signing.constant_time_equal(auth["signature"], expected):
            raise BodyError(401, "SignatureNotMatch", "signature %s not match" % auth["signature"])
        if auth["version"] == "v1" and "content-md5" in headers:
            if headers["content-md5"] != hashlib.md5(body).hexdigest().upper():
                raise BodyError(400, "PostBodyInvalid", "Content-MD5 does not match the body.")
        return key

    @staticmethod
    def _check_date(text: str, parse: Callable[[str], float]) -> None:
        try:
            when = parse(text)
        except (TypeError, ValueError):
            raise BodyError(400, "InvalidDateFormat", "Date %s must follow RFC822." % text) from None
        if abs(time.time() - when) > MAX_SKEW:
            raise BodyError(
                400,
                "RequestTimeExpired",
                "Request time has been expired while server time is %s." % (email.utils.formatdate(usegmt=True)),
            )
