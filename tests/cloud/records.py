"""Plain data held by the emulator's state: keys, secrets, objects, faults, call records."""

import dataclasses
import os
import secrets as _random
import string
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Set, Union

_ALNUM = string.ascii_letters + string.digits


def random_text(length: int, alphabet: str = _ALNUM) -> str:
    return "".join(_random.choice(alphabet) for _ in range(length))


def new_access_key_id() -> str:
    return "LTAI5t" + random_text(18)


def new_sts_access_key_id() -> str:
    return "STS.NT" + random_text(22)


def new_access_key_secret() -> str:
    return random_text(30)


def new_security_token() -> str:
    return "CAIS" + random_text(200, _ALNUM + "+/") + "="


def new_request_id() -> str:
    """RPC style: an upper-case UUID."""
    h = _random.token_hex(16).upper()
    return "%s-%s-%s-%s-%s" % (h[:8], h[8:12], h[12:16], h[16:20], h[20:])


def new_oss_request_id() -> str:
    """OSS style: 24 upper-case hex digits."""
    return _random.token_hex(12).upper()


def iso8601(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


@dataclass
class AccessKey:
    """A RAM (or STS-style) access key as the emulated cloud knows it."""

    access_key_id: str
    access_key_secret: str
    status: str = "Active"  # Active | Inactive | Deleted
    security_token: Optional[str] = None  # set: an STS-style key; requests must carry this token
    expires_at: Optional[float] = None  # epoch seconds; after it the token is expired
    kms_allowed: bool = False  # may call KMS at all
    kms_denied: bool = False  # deny_kms(): Forbidden.NoPermission
    owner: Optional[str] = None  # name of the managed secret that generated it
    created: float = field(default_factory=time.time)


@dataclass
class SecretVersion:
    version_id: str
    data: str
    create_time: float
    stages: Set[str] = field(default_factory=set)


@dataclass
class Secret:
    name: str
    secret_type: str
    rotation_interval: Optional[int]
    user_name: str
    create_time: float
    last_rotation: Optional[float] = None
    next_rotation_override: Optional[float] = None
    answer_override: Optional[bytes] = None  # GetSecretValue answers HTTP 200 with exactly these bytes
    versions: List[SecretVersion] = field(default_factory=list)
    key_ids: List[str] = field(default_factory=list)  # keys this secret generated that still exist, oldest first

    def version(self, stage: str) -> Optional[SecretVersion]:
        for v in self.versions:
            if stage in v.stages:
                return v
        return None

    def next_rotation(self) -> Optional[float]:
        if self.next_rotation_override is not None:
            return self.next_rotation_override
        if self.rotation_interval is None:
            return None
        return (self.last_rotation or self.create_time) + self.rotation_interval


@dataclass
class StoredObject:
    data: bytes
    content_type: str
    etag: str  # upper-case hex MD5, unquoted ("<hex>-<parts>" for a multipart object)
    content_md5: str  # base64 MD5 ("" for a multipart or appendable object: OSS sends none)
    crc64: int
    last_modified: float
    metadata: Dict[str, str] = field(default_factory=dict)  # x-oss-meta-* headers, lower-case names
    object_type: str = "Normal"  # Normal | Multipart | Appendable (x-oss-object-type)


@dataclass
class Bucket:
    name: str
    create_time: float
    objects: Dict[str, StoredObject] = field(default_factory=dict)


@dataclass
class Fault:
    """One injected fault for a service: an HTTP error and/or a delay, for `remaining` requests (None: forever)."""

    status: Optional[int] = None
    code: Optional[str] = None
    message: Optional[str] = None
    delay: Optional[float] = None
    remaining: Optional[int] = None
    gate: Optional[threading.Event] = None  # held unanswered until set (at most `delay`, default 60 s)
    until: Optional[float] = None  # the fault ends when clock() reaches this (None: only `remaining` ends it)
    clock: Optional[Callable[[], float]] = None  # what `until` is measured on (None: time.monotonic)
    retry_after: Optional[str] = None  # a Retry-After header on the error answer


@dataclass(frozen=True)
class CallRecord:
    """One request the emulator answered. Attribute access (rec.action) or item access (rec["action"])."""

    service: str
    action: Optional[str]
    access_key_id: Optional[str]
    status: int
    code: str  # "OK" for a success, else the error code returned
    time: float
    resource: str = ""  # OSS: the canonical resource, e.g. "/bucket/key?partNumber=3&uploadId=..." (no credentials)

    def __getitem__(self, name: str):
        if name not in self.__dataclass_fields__:
            raise KeyError(name)
        return getattr(self, name)

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def write_properties_file(path: str, lines: List[str], secret_names=None) -> str:
    """Write a properties file for the library under test: `lines`, then secret_names (a name or names) if given.
    Owner-only (0600): it holds the KMS caller's secret or names a client key."""
    if secret_names:
        names = [secret_names] if isinstance(secret_names, str) else list(secret_names)
        lines = lines + ["secret_names=%s" % ",".join(names)]
    return write_private_file(path, "\n".join(lines) + "\n")


def write_private_file(path: str, data: Union[str, bytes]) -> str:
    """Write a file that holds a secret, readable by its owner only (0600) from the moment it exists: created with
    that mode by os.open, never chmod-ed after the secret is in it. A file already there keeps its own mode through
    O_CREAT, so it is narrowed while still empty (just truncated), before anything is written."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        if hasattr(os, "fchmod"):
            os.fchmod(handle.fileno(), 0o600)
        handle.write(data.encode("utf-8") if isinstance(data, str) else data)
    return path
