"""Which SDK errors mean "the key was rotated, disabled or expired": the only errors we refresh for.

Each default list lives here, once, with where each code comes from.
"""

from typing import FrozenSet, Iterable, Optional

# aliyunsdkcore ServerException codes (RPC/ROA OpenAPI, ECS and others):
SDK_CORE_EXPIRED_KEY_CODES: FrozenSet[str] = frozenset(
    {
        "InvalidAccessKeyId.NotFound",  # the AccessKey was deleted: rotation, or emergency revocation
        "InvalidAccessKeyId.Inactive",  # the AccessKey was disabled in RAM
        "Forbidden.AccessKeyDisabled",  # the AccessKey was disabled (reported by some products)
        "InvalidSecurityToken.Expired",  # an STS token past its expiration
        "InvalidSecurityToken.MismatchWithAccessKey",  # an STS token that belongs to another (older) STS key
        "InvalidSecurityToken.Malformed",  # an STS token the service cannot read: stale or truncated
    }
)

# OSS XML error responses: oss2.exceptions.ServerError codes, and OSS SDK V2 ServiceError codes:
OSS_EXPIRED_KEY_CODES: FrozenSet[str] = frozenset(
    {
        "InvalidAccessKeyId",  # deleted or disabled AccessKey
        "InvalidSecurityToken",  # unreadable or revoked STS token
        "SecurityTokenExpired",  # STS token past its expiration
        "AccessKeyIdAndSecurityTokenNotMatch",  # token and key id of different STS issues
    }
)

# alibabacloud_tea_openapi TeaException codes (V2 SDKs): the OpenAPI codes plus the OSS-style ones.
TEA_EXPIRED_KEY_CODES: FrozenSet[str] = SDK_CORE_EXPIRED_KEY_CODES | frozenset({"InvalidAccessKeyId"})

# aliyun-mns-sdk MNSServerException types (``exception.type``, the service's <Code>; the SDK keeps no HTTP status):
MNS_EXPIRED_KEY_CODES: FrozenSet[str] = frozenset(
    {
        "InvalidAccessKeyId",  # a deleted or disabled AccessKey (403; MNS error-code page, aliyun/mns-nodejs-sdk tests)
        "SecurityTokenExpired",  # an STS token past its expiration (403, OSS's code, which MNS shares)
        "InvalidSecurityToken",  # an STS token the service cannot read or that belongs to another key (403)
    }
)  # not SignatureDoesNotMatch (a wrong secret for a live key id) nor AccessDenied (a missing permission)

# Tablestore answers every authentication failure with 403 OTSAuthFailed; only the message says which. These
# messages (compared without case, spacing or a final period) mean the key was rotated, disabled or expired:
OTS_AUTH_FAILED = "OTSAuthFailed"
OTS_EXPIRED_KEY_MESSAGES: FrozenSet[str] = frozenset(
    {
        "The AccessKeyID does not exist.",  # a deleted key: Tablestore's error-code page (2024)
        "The AccessKey ID does not exist.",  # the same, as the page words it since 2026
        "The AccessKeyID is disabled.",  # a disabled key: the same page (2024)
        "The AccessKey ID is disabled.",  # the same (2026)
        "The StsToken has expired.",  # an expired STS token (no public source for the wording: see below)
        "The StsToken is invalid.",  # an STS token of another key (no public source either)
    }
)
# Any other OTSAuthFailed is not refreshed for: "The instance is not found.", "The user has no privilege to access
# the instance." (a RAM policy), "Mismatch between system time and x-ots-date: ..." (clock skew), "Signature
# mismatch." (a wrong secret for a live key id). An expired token is also recognised by its words ("token" ...
# "expired"), since its exact wording is not published.


# Log Service (aliyun-log-python-sdk) LogException codes. The service answers every key problem with HTTP 401.
SLS_EXPIRED_KEY_CODES: FrozenSet[str] = frozenset(
    {
        "Unauthorized",  # an unknown, deleted or disabled AccessKey ("AccessKeyId not found: <id>": aliyun-log-go-sdk's
        # end-to-end test against the service), or a token of another key; but see SLS_PERMISSION_DENIAL
        "InvalidAccessKeyId",  # in the SDK's own auth-error set (aliyun/log/logclient.py _auth_code_set)
        "InvalidAccessKeyId.NotFound",  # the same set
        "SecurityTokenExpired",  # an STS token past its expiration (the same set; aliyun-log-java-producer's reports)
        "SecurityToken.Expired",  # the same, as the SDK's set also spells it
    }
)

# The start of an Unauthorized message that is a RAM policy denial, not a key problem ("denied by sts or ram, action:
# log:PostLogStoreLogs, resource: acs:log:..."; seen from the service in log-pilot, aliyun-log-go-sdk and the log4j
# appender's issues): the key is good, a new one would be refused the same way, so it is not refreshed for.
SLS_PERMISSION_DENIAL = "denied by sts or ram"


class AKExpireHandler:
    """Decides whether an SDK exception means the key was rotated, disabled or expired: the only errors a proxy
    refreshes the key for and re-issues the call after. Any other error reaches the caller unchanged.

    Give a proxy another judgement with ``ak_expire_handler=``: a handler built with codes matches those codes
    instead of the defaults (``SdkCoreAKExpireHandler("Gateway.KeyRevoked")``), or subclass and override
    ``judge_ak_expire``::

        class MyHandler(AKExpireHandler):
            def judge_ak_expire(self, exception) -> bool:
                return getattr(exception, "code", None) == "MyCode"

    This base class compares the exception's ``get_error_code()`` (aliyunsdkcore) or ``code`` with ``error_codes``.
    """

    default_codes: FrozenSet[str] = frozenset()

    def __init__(self, *codes: str, error_codes: Optional[Iterable[str]] = None):
        """``codes`` / ``error_codes``: the error codes that mean an expired key (default: the class's
        ``default_codes``)."""
        chosen = set(codes) | set(error_codes or ())
        self.error_codes: FrozenSet[str] = frozenset(chosen) if chosen else self.default_codes

    def judge_ak_expire(self, exception: BaseException) -> bool:
        """True when ``exception`` means the key must be refreshed and the call re-issued."""
        return _error_code(exception) in self.error_codes

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(sorted(self.error_codes))})"


class SdkCoreAKExpireHandler(AKExpireHandler):
    """For AcsClient (ProxyAcsClient's default): an aliyunsdkcore ServerException whose code reports a rotated,
    disabled or expired key: InvalidAccessKeyId.NotFound, InvalidAccessKeyId.Inactive, Forbidden.AccessKeyDisabled,
    InvalidSecurityToken.Expired, InvalidSecurityToken.MismatchWithAccessKey, InvalidSecurityToken.Malformed."""

    default_codes = SDK_CORE_EXPIRED_KEY_CODES

    def judge_ak_expire(self, exception: BaseException) -> bool:
        from aliyunsdkcore.acs_exception.exceptions import ServerException

        return isinstance(exception, ServerException) and exception.get_error_code() in self.error_codes


class OssAKExpireHandler(AKExpireHandler):
    """For oss2 (ProxyBucket's and ProxyService's default): an oss2 ServerError whose code reports a rotated,
    disabled or expired key: InvalidAccessKeyId, InvalidSecurityToken, SecurityTokenExpired,
    AccessKeyIdAndSecurityTokenNotMatch."""

    default_codes = OSS_EXPIRED_KEY_CODES

    def judge_ak_expire(self, exception: BaseException) -> bool:
        from oss2.exceptions import ServerError

        return isinstance(exception, ServerError) and exception.code in self.error_codes


class OssV2AKExpireHandler(AKExpireHandler):
    """For OSS SDK V2 (alibabacloud-oss-v2) clients: the ServiceError inside the OperationError (and any other
    wrapper with ``unwrap()``, e.g. the uploader's UploadError) whose code reports a rotated, disabled or expired
    key. The codes are OssAKExpireHandler's: both SDKs read the same OSS error responses."""

    default_codes = OSS_EXPIRED_KEY_CODES

    def judge_ak_expire(self, exception: BaseException) -> bool:
        from alibabacloud_oss_v2.exceptions import ServiceError

        error = unwrap_oss_v2_error(exception)
        return isinstance(error, ServiceError) and error.code in self.error_codes


def unwrap_oss_v2_error(exception: BaseException) -> BaseException:
    """The innermost error of OSS SDK V2's wrappers: OperationError, UploadError, ... have ``unwrap()``;
    CredentialsFetchError keeps its ``error=`` only in the ``kwargs`` every SDK error has."""
    error = exception
    for _ in range(8):  # the SDK nests two or three deep; bounded against a wrapper that unwraps to itself
        unwrap = getattr(error, "unwrap", None)
        inner = unwrap() if callable(unwrap) else None
        if inner is None:
            kwargs = getattr(error, "kwargs", None)
            inner = kwargs.get("error") if isinstance(kwargs, dict) else None
        if not isinstance(inner, BaseException) or inner is error:
            break
        error = inner
    return error


class MnsAKExpireHandler(AKExpireHandler):
    """For ProxyMnsAccount (aliyun-mns-sdk): an MNSServerException whose type (the service's code) reports a rotated,
    disabled or expired key."""

    default_codes = MNS_EXPIRED_KEY_CODES

    def judge_ak_expire(self, exception: BaseException) -> bool:
        from mns.mns_exception import MNSServerException

        return isinstance(exception, MNSServerException) and exception.type in self.error_codes


class OtsAKExpireHandler(AKExpireHandler):
    """For ProxyOTSClient (tablestore): an OTSServiceError with code OTSAuthFailed *and* a message that says the key
    is gone, disabled or expired (``OTS_EXPIRED_KEY_MESSAGES``; ``messages=`` replaces that list). The code alone
    is not enough: the same code answers an unknown instance, a missing permission and clock skew."""

    default_codes = frozenset({OTS_AUTH_FAILED})

    def __init__(
        self, *codes: str, error_codes: Optional[Iterable[str]] = None, messages: Optional[Iterable[str]] = None
    ):
        super().__init__(*codes, error_codes=error_codes)
        chosen = OTS_EXPIRED_KEY_MESSAGES if messages is None else frozenset(messages)
        self.messages: FrozenSet[str] = frozenset(_normalised(m) for m in chosen)
        self._token_words = messages is None  # the wording of an expired token is not published

    def judge_ak_expire(self, exception: BaseException) -> bool:
        from tablestore.error import OTSServiceError

        if not isinstance(exception, OTSServiceError) or exception.get_error_code() not in self.error_codes:
            return False
        message = _normalised(exception.get_error_message())
        return message in self.messages or (self._token_words and _expired_token(message))


def _normalised(message: object) -> str:
    """``The AccessKey ID does not exist.`` -> ``the accesskey id does not exist``: case, spacing, a final period."""
    return " ".join(str(message or "").split()).rstrip(".").lower()


def _expired_token(message: str) -> bool:
    token, expired = message.find("token"), message.find("expired")
    return token >= 0 and expired >= 0


class SlsAKExpireHandler(AKExpireHandler):
    """For Log Service (aliyun-log-python-sdk) clients: a LogException whose code reports a rotated, disabled or
    expired key; an ``Unauthorized`` that says it is a RAM policy denial (``denied by sts or ram, ...``) is not one."""

    default_codes = SLS_EXPIRED_KEY_CODES

    def judge_ak_expire(self, exception: BaseException) -> bool:
        from aliyun.log.logexception import LogException

        if not isinstance(exception, LogException) or exception.get_error_code() not in self.error_codes:
            return False
        message = exception.get_error_message()
        return not (isinstance(message, str) and message.lower().startswith(SLS_PERMISSION_DENIAL))


class TeaAKExpireHandler(AKExpireHandler):
    """For tea-openapi (V2) clients (ProxyOpenApiClient's default): a TeaException whose code reports a rotated,
    disabled or expired key: SdkCoreAKExpireHandler's codes and InvalidAccessKeyId."""

    default_codes = TEA_EXPIRED_KEY_CODES


def _error_code(exception: BaseException) -> Optional[str]:
    getter = getattr(exception, "get_error_code", None)
    if callable(getter):
        return getter()
    code = getattr(exception, "code", None)
    return code if isinstance(code, str) else None
