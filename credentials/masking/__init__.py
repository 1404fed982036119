"""What keeps secrets out of logs, exception texts and reprs: masking by name in the SDKs' log records (redaction,
on the loggers of sdk_loggers), in exceptions (exception_redaction), text known to be secret whatever its names
(known_secrets), and a password that never prints (password). The same filter on the SDKs' loggers lowers to DEBUG
their records of an attempt that a proxy re-issues (reissued).
"""

from .exception_redaction import redact_exception
from .known_secrets import MASK, hide, hiding, url_secrets
from .password import Password
from .redaction import install_sdk_log_redaction, redact
from .reissued import ATTEMPT, RecordJudge, already_reported

__all__ = [
    "MASK",
    "redact",
    "install_sdk_log_redaction",
    "redact_exception",
    "hide",
    "hiding",
    "url_secrets",
    "Password",
    "ATTEMPT",
    "RecordJudge",
    "already_reported",
]
