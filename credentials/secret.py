"""Reading a GetSecretValue response: the key inside SecretData, and when to look again.

Errors here name the secret and the missing field, never a value.
"""

import random
from calendar import timegm
from datetime import datetime
from time import strptime
from typing import Any, Dict, NamedTuple, Optional

from .errors import CredentialsError
from .json_limits import JsonRejected, loads_bounded
from .model import Credentials

DEFAULT_REFRESH_INTERVAL = 6 * 3600.0  # when the secret carries no rotation schedule
MIN_REFRESH_DELAY = 60.0  # never poll KMS faster than this when a rotation is overdue
MAX_ROTATION_JITTER = 300.0  # a fleet spreads its fetches over at most 5 minutes after a rotation
# A NextRotationDate that passed longer ago than this when a fetch returns it is stale (KMS kept an old date): the
# periodic refresh applies, not minute-scale polling for a rotation that is not coming.
STALE_ROTATION_AGE = 900.0
MAX_FIELD_CHARS = 256  # an AccessKey id has 24 characters, its secret 30
MAX_SECRET_DATA_CHARS = 1 << 16  # a managed RAM credential's SecretData is about 100 characters


class SecretValue(NamedTuple):  # not a dataclass: making one costs about a millisecond in every process
    credentials: Credentials
    version_id: Optional[str]
    rotation_interval: Optional[float]  # seconds
    next_rotation: Optional[float]  # epoch seconds


def parse_secret_value(document: Dict[str, Any], secret_name: str) -> SecretValue:
    data = _secret_data(document, secret_name)
    for field in ("AccessKeyId", "AccessKeySecret"):
        problem = _field_problem(data, field)
        if problem:
            raise CredentialsError(
                f"SecretData field {field} {problem}", secret_name=secret_name, code="MalformedSecretData"
            )
    credentials = Credentials(data["AccessKeyId"].strip(), data["AccessKeySecret"].strip())
    return SecretValue(
        credentials,
        _str_or_none(document.get("VersionId")),
        _parse_interval(document.get("RotationInterval")),
        _parse_date(document.get("NextRotationDate")),
    )


def _secret_data(document: Dict[str, Any], secret_name: str) -> Dict[str, Any]:
    """The JSON object inside SecretData; what is wrong with it said in words that never show a value."""
    raw: Any = document.get("SecretData")
    if "SecretData" not in document:
        problem = "is missing from the GetSecretValue answer"
    else:
        problem = _kind_problem(raw) or ("is empty" if not raw.strip() else "")
    if problem:
        raise CredentialsError(f"SecretData {problem}", secret_name=secret_name, code="MalformedSecretData")
    try:
        data = loads_bounded(raw, max_chars=MAX_SECRET_DATA_CHARS)
    except JsonRejected as exc:
        raise CredentialsError(
            f'SecretData {exc}; expected {{"AccessKeyId": ..., "AccessKeySecret": ...}}',
            secret_name=secret_name,
            code="MalformedSecretData",
        ) from None
    if not isinstance(data, dict):
        raise CredentialsError("SecretData is not a JSON object", secret_name=secret_name, code="MalformedSecretData")
    return data


def next_refresh_at(
    value: SecretValue,
    now: float,
    default_interval: float = DEFAULT_REFRESH_INTERVAL,
    rand: Optional[random.Random] = None,
    *,
    seen_passed: bool = False,
) -> float:
    """When to fetch again (``now``: when ``value`` was fetched). At the latest after a jittered default interval
    (a manual rotation has no schedule). With a NextRotationDate ahead: shortly after it, spread by jitter so that
    a fleet does not stampede KMS. With one just passed (KMS rotates a little after the date, and reports the new
    date once it has): one more look in a minute or a few. A date that an earlier fetch already found passed
    (``seen_passed``), or that passed more than STALE_ROTATION_AGE ago, is stale: the periodic refresh only."""
    uniform = rand.uniform if rand is not None else random.uniform
    periodic = now + default_interval * uniform(0.5, 1.0)
    rotation = value.next_rotation
    if rotation is None or (rotation <= now and (seen_passed or now - rotation > STALE_ROTATION_AGE)):
        return periodic
    interval = value.rotation_interval or default_interval
    window = min(MAX_ROTATION_JITTER, interval * 0.1)
    after_rotation = max(rotation, now + MIN_REFRESH_DELAY) + uniform(0.0, window)
    return min(periodic, after_rotation)


_JSON_TYPES = (
    (bool, "a JSON boolean"),
    ((int, float), "a JSON number"),
    (dict, "a JSON object"),
    (list, "a JSON array"),
    (type(None), "null"),
)


def _field_problem(data: Dict[str, Any], field: str) -> Optional[str]:
    """What is wrong with one required field, in words that never show its value (None: nothing)."""
    if field not in data:
        return "is missing"
    value = data[field]
    problem = _kind_problem(value)
    if problem:
        return problem
    if not value.strip():
        return "is empty"
    if len(value) > MAX_FIELD_CHARS:
        return f"is {len(value)} characters long (an AccessKey has fewer than {MAX_FIELD_CHARS})"
    return None


def _kind_problem(value: Any) -> Optional[str]:
    """ "is not a string (it is a JSON object)" for a value that is not a string, else None."""
    if isinstance(value, str):
        return None
    kind = next((name for types, name in _JSON_TYPES if isinstance(value, types)), type(value).__name__)
    return f"is not a string (it is {kind})"


def _str_or_none(value: Any) -> Optional[str]:
    return value if isinstance(value, str) and value else None


def _parse_interval(value: Any) -> Optional[float]:
    if not isinstance(value, str) or not value.endswith("s"):
        return None
    try:
        seconds = float(value[:-1])
    except ValueError:
        return None
    return seconds if seconds > 0 else None


def _parse_date(value: Any) -> Optional[float]:
    if not isinstance(value, str) or not value:
        return None
    text = value.strip()
    canonical = _canonical_utc(text)
    if canonical is not None:
        return canonical
    for fmt in ("%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S.%fZ", "%Y-%m-%dT%H:%M:%S+0000", "%Y-%m-%d %H:%M:%S"):
        try:
            return float(timegm(strptime(text, fmt)))
        except ValueError:
            continue
    return None


def _canonical_utc(text: str) -> Optional[float]:
    """``2026-01-02T03:04:05Z``, the form KMS writes, read without time.strptime (whose first call in a process costs
    about 2 ms, compiling its patterns); None for anything else, which _parse_date's formats then read."""
    if len(text) != 20 or text[4] + text[7] + text[10] + text[13] + text[16] + text[19] != "--T::Z":
        return None
    fields = (text[0:4], text[5:7], text[8:10], text[11:13], text[14:16], text[17:19])
    if not all(f.isascii() and f.isdigit() for f in fields):
        return None
    year, month, day, hour, minute, second = (int(f) for f in fields)
    try:
        moment = datetime(year, month, day, hour, minute, second)
    except ValueError:  # out of range (a 30th of February, a leap second): strptime decides
        return None
    return float(timegm(moment.timetuple()))
