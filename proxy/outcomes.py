"""What the end of a re-issue tells an operator: counts (the provider's ``status()``, the metrics) and at most one line.

A healed rotation is one WARNING per rotation, written by the first call healed with the new key (which secret, the
rejected and the new key id, masked); the calls re-issued after it are counted, not logged (``status()["reissues"]``,
``managed_credentials.reissues{outcome="healed"}``). A heal that fails is one ERROR per rejected key, naming the
secret, the key and why; the calls that fail after it the same way are counted (``reissues_failed``,
``{outcome="failed"}``) and logged at DEBUG. A body that cannot be sent again has its WARNING in reissue.py and is
counted as ``not_replayable``. All of this runs only after a call was rejected: never on a call's success path.
"""

import logging
from typing import Optional

from credentials import CredentialsProvider
from credentials.masking import already_reported
from credentials.metrics import record_reissue
from credentials.model import Credentials, mask
from credentials.stats import stats_of

from .notes import source_of

logger = logging.getLogger("managed_credentials.proxy")

HEALED, FAILED, NOT_REPLAYABLE = "healed", "failed", "not_replayable"


def healed(
    provider: CredentialsProvider, sdk: str, rejected: Optional[Credentials], fresh: Credentials, why: str
) -> None:
    """A call rejected with ``rejected`` went through with ``fresh``."""
    record_reissue(sdk, HEALED)
    if not stats_of(provider).healed(fresh.access_key_id):
        return
    version = getattr(provider, "version_id", None)
    logger.warning(
        "%s: key %s was rejected (%s); calls are re-issued with key %s%s, which the service accepts (each re-issued "
        "call is counted in status()['reissues'] and the metric managed_credentials.reissues)",
        source_of(provider),
        mask(rejected.access_key_id if rejected is not None else None),
        why,
        mask(fresh.access_key_id),
        f" (version {version})" if version else "",
    )


def heal_failed(
    provider: CredentialsProvider,
    sdk: str,
    rejected: Optional[Credentials],
    error: str,
    reason: str,
    note: Optional[str] = None,
) -> None:
    """A call rejected with ``rejected`` could not be healed (``reason``): the service's error was raised, ending
    with ``note`` (an SDK that logs that error again is lowered: credentials/masking/reissued.py)."""
    record_reissue(sdk, FAILED)
    if note:
        already_reported(note)
    key_id = rejected.access_key_id if rejected is not None else None
    first = stats_of(provider).heal_failed(key_id)
    logger.log(
        logging.ERROR if first else logging.DEBUG,
        "%s: key %s was rejected (%s) and could not be replaced: %s; calls signed with it raise the service's "
        "error until a new key is fetched%s",
        source_of(provider),
        mask(key_id),
        error,
        reason,
        "" if first else " (logged at ERROR for its first call)",
    )


def not_replayable(provider: CredentialsProvider, sdk: str) -> None:
    record_reissue(sdk, NOT_REPLAYABLE)
    stats_of(provider).not_replayable()


def describe(exc: BaseException) -> str:
    """``ServerException InvalidAccessKeyId.NotFound``; OSS SDK V2's OperationError by the ServiceError inside."""
    unwrap = getattr(exc, "unwrap", None)
    inner = unwrap() if callable(unwrap) else None
    if isinstance(inner, BaseException) and inner is not exc:
        return f"{type(exc).__name__} ({describe(inner)})"
    code = getattr(exc, "code", None)
    if not isinstance(code, str):
        getter = getattr(exc, "get_error_code", None)
        code = getter() if callable(getter) else None
    return f"{type(exc).__name__} {code}" if code else type(exc).__name__
