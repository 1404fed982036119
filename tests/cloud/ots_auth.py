"""Who sent a Tablestore request, and did they sign it right (both signature versions of the tablestore SDK), and the
signature the SDK demands on every successful *answer*.

Request, v2: `x-ots-signature: base64(HMAC-SHA1(secret, S))`; v4 (OTSClient(region=...)): `x-ots-signaturev4:
base64(HMAC-SHA256(K, S + "ots"))` with `x-ots-signdate` (yyyymmdd) and `x-ots-signregion`, where
K = base64(HMAC-SHA256 chain of "aliyun_v4" + secret over signdate, region, "ots", "aliyun_v4_request")

    S = "/<Api>" \\n "POST" \\n "" \\n "name:value" per x-ots-* header but the signature, sorted, joined by \\n, \\n

with x-ots-date (ISO 8601, within 15 minutes), x-ots-accesskeyid, x-ots-instancename, x-ots-contentmd5 (base64 MD5
of the body) and an STS key's x-ots-ststoken. Answer: `Authorization: OTS <AccessKeyId>:base64(HMAC-SHA1(K or
secret, the answer's x-ots-* headers as above + \\n + "/<Api>"))`; the SDK skips that check on 403 OTSAuthFailed.

Refusals are 403 OTSAuthFailed with the message saying which (Tablestore's error-code reference): "The AccessKeyID
does not exist.", "The AccessKeyID is disabled.", "Signature mismatch.", "Mismatch between system time and x-ots-date:
<date>.", and for what a new key does not fix "The instance is not found." and "The user has no privilege to access
the instance.".
"""

import base64
import calendar
import hashlib
import hmac
import time
from typing import Dict, Optional, Tuple

from . import signing
from . import state as reasons
from .records import AccessKey
from .state import CloudState

MAX_SKEW = 15 * 60
AUTH_FAILED = "OTSAuthFailed"
SIGNATURE_HEADERS = ("x-ots-signature", "x-ots-signaturev4")
_NO_SUCH_KEY = "The AccessKeyID does not exist."
_BAD_TOKEN = "The StsToken is invalid."
# check_key() reasons -> OTSAuthFailed message
KEY_MESSAGES = {
    reasons.KEY_NOT_FOUND: _NO_SUCH_KEY,
    reasons.KEY_INACTIVE: "The AccessKeyID is disabled.",
    reasons.TOKEN_MISSING: _NO_SUCH_KEY,
    reasons.TOKEN_UNEXPECTED: _BAD_TOKEN,
    reasons.TOKEN_MISMATCH: _BAD_TOKEN,
    reasons.TOKEN_MALFORMED: _BAD_TOKEN,
    reasons.TOKEN_EXPIRED: "The StsToken has expired.",
}


class OtsError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__("%s %s: %s" % (status, code, message))
        self.status, self.code, self.message = status, code, message


def headers_string(headers: Dict[str, str]) -> str:
    items = ["%s:%s" % (k, v.strip()) for k, v in headers.items() if k.startswith("x-ots-")]
    return "\n".join(sorted(items))


def v4_signing_key(secret: str, sign_date: str, region: str) -> str:
    key = ("aliyun_v4" + secret).encode("utf-8")
    for part in (sign_date, region, "ots", "aliyun_v4_request"):
        key = hmac.new(key, part.encode("utf-8"), hashlib.sha256).digest()
    return base64.b64encode(key).decode()


def _b64_hmac(key: str, text: str, digest) -> str:
    return base64.b64encode(hmac.new(key.encode("utf-8"), text.encode("utf-8"), digest).digest()).decode()


def response_authorization(access_key_id: str, signing_key: str, headers: Dict[str, str], uri: str) -> str:
    return "OTS %s:%s" % (access_key_id, _b64_hmac(signing_key, headers_string(headers) + "\n" + uri, hashlib.sha1))


class OtsAuthenticator:
    def __init__(self, state: CloudState, region_id: str) -> None:
        self.state = state
        self.region_id = region_id

    def authenticate(self, headers: Dict[str, str], uri: str, body: bytes) -> Tuple[AccessKey, str]:
        """(the live key, the key to sign the answer with); OtsError otherwise."""
        key_id = headers.get("x-ots-accesskeyid", "")
        if not key_id or not any(h in headers for h in SIGNATURE_HEADERS):
            raise OtsError(400, "OTSParameterInvalid", "Missing header x-ots-accesskeyid or x-ots-signature.")
        self._check_date(headers.get("x-ots-date", ""))
        key, problem = self.state.check_key(key_id, headers.get("x-ots-ststoken"))
        if problem is not None or key is None:
            raise OtsError(403, AUTH_FAILED, KEY_MESSAGES[problem or reasons.KEY_NOT_FOUND])
        signed = {k: v for k, v in headers.items() if k not in SIGNATURE_HEADERS}
        to_sign = uri + "\nPOST\n\n" + headers_string(signed) + "\n"
        provided: Optional[str] = headers.get("x-ots-signature")
        if provided is not None:
            signing_key = key.access_key_secret
            expected = _b64_hmac(signing_key, to_sign, hashlib.sha1)
        else:
            provided = headers["x-ots-signaturev4"]
            if headers.get("x-ots-signregion") != self.region_id:
                raise OtsError(403, AUTH_FAILED, "Signature mismatch.")
            signing_key = v4_signing_key(key.access_key_secret, headers.get("x-ots-signdate", ""), self.region_id)
            expected = _b64_hmac(signing_key, to_sign + "ots", hashlib.sha256)
        if not signing.constant_time_equal(provided, expected):
            raise OtsError(403, AUTH_FAILED, "Signature mismatch.")
        if headers.get("x-ots-contentmd5") != base64.b64encode(hashlib.md5(body).digest()).decode():
            raise OtsError(400, "OTSInvalidPB", "The x-ots-contentmd5 header does not match the body.")
        return key, signing_key

    @staticmethod
    def _check_date(text: str) -> None:
        try:
            when = calendar.timegm(time.strptime(text.split(".")[0], "%Y-%m-%dT%H:%M:%S"))
        except ValueError:
            raise OtsError(400, "OTSParameterInvalid", "Invalid date format: %s." % text) from None
        if abs(time.time() - when) > MAX_SKEW:
            raise OtsError(403, AUTH_FAILED, "Mismatch between system time and x-ots-date: %s." % text)
