"""The SDKs' own records of an attempt that a proxy re-issues are lowered to DEBUG: a healed rotation raises no alert.

aliyunsdkcore logs every ServerException at ERROR (``ServerException occurred. ... InvalidAccessKeyId.NotFound``)
before it returns it; on a routine revocation each call in flight would log one, though the proxy then heals it
and the caller sees nothing. A proxy call sets ``ATTEMPT`` (a context variable: per thread, per asyncio task) to
its judge for the length of the call, in whatever thread runs it (oss2's resumable transfers run each part through
the proxy's wrapped ``upload_part`` in the SDK's own worker threads, so the marker is set there). The SDK-logger
filter (redaction.py) asks the judge about each record at WARNING or above logged while it is set: a record that
reports an error the proxy re-issues for (an expired-key error by its handler) is lowered to DEBUG, its level the
only change (it is still masked), and dropped when its logger is not enabled for DEBUG, as a DEBUG record would be.
What the proxy cannot heal it says itself: one ERROR per failed heal (proxy/reissue.py).
"""

import logging
from contextvars import ContextVar
from typing import Callable, Optional

#: Whether a record reports an error that the proxy call running in this context re-issues for.
RecordJudge = Callable[[logging.LogRecord], bool]

ATTEMPT: "ContextVar[Optional[RecordJudge]]" = ContextVar("managed_credentials_attempt", default=None)


def lower_if_reissued(record: logging.LogRecord) -> bool:
    """Lower ``record`` to DEBUG when it reports an error the proxy call in this context re-issues for; False when
    it should then be dropped (its logger does not log DEBUG)."""
    if record.levelno < logging.WARNING:
        return True
    judge = ATTEMPT.get()
    if judge is None:
        return True
    try:
        reissued = judge(record)
    except Exception:  # noqa: BLE001 - a judge that fails leaves the record as the SDK logged it
        return True
    if not reissued:
        return True
    record.levelno, record.levelname = logging.DEBUG, logging.getLevelName(logging.DEBUG)
    return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)
