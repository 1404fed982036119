"""The SDKs' own records of an attempt that a proxy re-issues are lowered to DEBUG: a healed rotation raises no alert.

aliyunsdkcore logs every ServerException at ERROR (``ServerException occurred. ... InvalidAccessKeyId.NotFound``)
before it returns it; on a routine revocation each call in flight would log one, though the proxy then heals it
and the caller sees nothing. A proxy call sets ``ATTEMPT`` (a context variable: per thread, per asyncio task) to
its judge for the length of the call, in whatever thread runs it (oss2's resumable transfers run each part through
the proxy's wrapped ``upload_part`` in the SDK's own worker threads, so the marker is set there). The SDK-logger
filter (redaction.py) asks the judge about each record at WARNING or above logged while it is set: a record that
reports an error the proxy re-issues for (an expired-key error by its handler) is lowered to DEBUG, its level the
only change (it is still masked), and dropped when its logger is not enabled for DEBUG, as a DEBUG record would be.
What the proxy cannot heal it says itself: one ERROR per failed heal (proxy/outcomes.py), and the note that heal
put on the service's error is remembered (``already_reported``): an SDK record that quotes it, logged anywhere (oss2's
resumable transfers log the error of a failed part, traceback and all, from the caller's thread, where no proxy call
runs), is lowered the same way, since it repeats that ERROR.
"""

import logging
from collections import deque
from contextvars import ContextVar
from typing import Callable, Deque, Optional

#: Whether a record reports an error that the proxy call running in this context re-issues for.
RecordJudge = Callable[[logging.LogRecord], bool]

ATTEMPT: "ContextVar[Optional[RecordJudge]]" = ContextVar("managed_credentials_attempt", default=None)

# The notes of the latest failed heals, already logged at ERROR (appended and read without a lock: a deque's append
# and a copy of it are each atomic; bounded, so a long outage with many secrets keeps only the latest).
_reported: Deque[str] = deque(maxlen=16)


def already_reported(note: str) -> None:
    """``note`` (the text a failed heal appended to the service's error) was logged at ERROR: an SDK record quoting
    it is a repeat, lowered to DEBUG."""
    if note and note not in _reported:
        _reported.append(note)


def _quotes_a_reported_failure(record: logging.LogRecord) -> bool:
    notes = list(_reported)
    if not notes:
        return False
    message = record.getMessage()
    return any(note in message for note in notes)


def lower_if_reissued(record: logging.LogRecord) -> bool:
    """Lower ``record`` to DEBUG when it reports an error the proxy call in this context re-issues for; False when
    it should then be dropped (its logger does not log DEBUG)."""
    if record.levelno < logging.WARNING:
        return True
    judge = ATTEMPT.get()
    try:
        reissued = (judge is not None and judge(record)) or _quotes_a_reported_failure(record)
    except Exception:  # noqa: BLE001 - a judge that fails leaves the record as the SDK logged it
        return True
    if not reissued:
        return True
    record.levelno, record.levelname = logging.DEBUG, logging.getLevelName(logging.DEBUG)
    return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)
