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
    """Decides whether an SDK exception means the key must be refreshed. Subclass and override ``judge_ak_expire``."""

    default_codes: FrozenSet[str] = frozenset()

    def __init__(self, *codes: str, error_codes: Optional[Iterable[str]] = None):
        chosen = set(codes) | set(error_codes or ())
        self.error_codes: FrozenSet[str] = frozenset(chosen) if chosen else self.default_codes

    def judge_ak_expire(self, exception: BaseException) -> bool:
        return _error_code(exception) in self.error_codes

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(sorted(self.error_codes))})"


class SdkCoreAKExpireHandler(AKExpireHandler):
    """For AcsClient: a ServerException whose code reports a rotated, disabled or expired key."""

    default_codes = SDK_CORE_EXPIRED_KEY_CODES

    def judge_ak_expire(self, exception: BaseException) -> bool:
        from aliyunsdkcore.acs_exception.exceptions import ServerException

        return isinstance(exception, ServerException) and exception.get_error_code() in self.error_codes


class OssAKExpireHandler(AKExpireHandler):
    """For oss2.Bucket: an oss2 ServerError whose code reports a rotated, disabled or expired key."""

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
    """For tea-openapi (V2) clients: a TeaException whose code reports a rotated, disabled or expired key."""

    default_codes = TEA_EXPIRED_KEY_CODES


def _error_code(exception: BaseException) -> Optional[str]:
    getter = getattr(exception, "get_error_code", None)
    if callable(getter):
        return getter()
    code = getattr(exception, "code", None)
    return code if isinstance(code, str) else None
