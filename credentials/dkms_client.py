"""GetSecretValue from dedicated KMS instance gateways, through the official alibabacloud-dkms-gcs SDK.

The SDK signs (RSA, with the client key opened by dkms_config.py) and sends;
its own retry loop is switched off so that tenacity retries here, like
kms_client.py. Several instances fail over in the order configured: an
instance that fails with a connection error or a 5xx is put in a cooldown
(a TTLCache) and tried again only after it, or when every instance is in
cooldown, so a dead gateway costs one failed connection per cooldown, not
one per fetch.

The SDK is imported when a DkmsClient is made (only configurations with
``cache_client_dkms_config_info`` pay for it); it installs modules with
generic top-level names (``sdk``, ``openapi``, ``openapi_util``), so a clash
with another module of those names is reported as such.
"""
import logging
import os
import re
import ssl
import sys
import threading
import time
import warnings
import weakref
from types import SimpleNamespace
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence

import cachetools
import tenacity

from .dkms_config import KEY, DkmsInstance
from .errors import ConfigError
from .kms_client import RETRYABLE_CODES, KmsRequestError, remaining, transient_retrying, until

logger = logging.getLogger("managed_credentials.credentials")

DKMS_DISTRIBUTION = "alibabacloud-dkms-gcs"
RETRYABLE_DKMS_CODES = RETRYABLE_CODES | {"Rejected.Throttling"}
KEY_CODES = frozenset({"SignatureNotMatch", "Unauthorized", "InvalidAccessKeyId", "Forbidden.NoPermission"})
# Optional fields of the gateway's answer, kept (when not empty) under the names KMS GetSecretValue uses.
OPTIONAL_FIELDS = (("RotationInterval", "rotation_interval"), ("NextRotationDate", "next_rotation_date"),
                   ("LastRotationDate", "last_rotation_date"), ("ExtendedConfig", "extended_config"),
                   ("AutomaticRotation", "automatic_rotation"), ("SecretType", "secret_type"),
                   ("SecretDataType", "secret_data_type"), ("CreateTime", "create_time"),
                   ("RequestId", "request_id"))


class DkmsClient:
    """Same interface as KmsClient: ``get_secret_value(name) -> dict`` shaped like KMS GetSecretValue JSON."""

    def __init__(self, instances: Sequence[DkmsInstance], *, connect_timeout: float = 3.0,
                 read_timeout: float = 6.0, attempts: int = 4, wait: Optional[tenacity.wait.wait_base] = None,
                 cooldown: float = 60.0, clock: Callable[[], float] = time.monotonic):
        if not instances:
            raise ValueError("DkmsClient needs at least one instance")
        self.instances = tuple(instances)
        self._sdk = _load_sdk(self.instances[0])
        self._timeouts = (int(connect_timeout * 1000), int(read_timeout * 1000))
        self._cooldown_seconds = cooldown
        self._lock = threading.Lock()
        self._cooling = cachetools.TTLCache(maxsize=len(self.instances), ttl=cooldown, timer=clock)  # index -> True
        self._last = 0
        self._clients = self._new_clients()
        for instance in self.instances:
            if instance.ignore_ssl_certs:
                _ignore_unverified_warnings(instance)
        _live.add(self)
        self._retrying = transient_retrying(attempts, wait, "dedicated KMS")

    def get_secret_value(self, secret_name: str, deadline: Optional[float] = None) -> Dict[str, Any]:
        """The secret's current value (with its extended config), or a KmsRequestError; with ``deadline``
        (time.monotonic()), connection, reads and retries all end by then."""
        return until(self._retrying, deadline)(self._get_from_any_instance, secret_name, deadline)

    def describe_source(self) -> str:
        """Where the last successful fetch came from (for ``managed-credentials check``)."""
        instance = self.instances[self._last]
        return f"dedicated KMS instance {instance.url} (region {instance.region_id})"

    def _order(self) -> List[int]:
        """Instances not in cooldown, in the order configured; then the ones in cooldown (better than nothing)."""
        with self._lock:
            cooling = {i for i in range(len(self.instances)) if i in self._cooling}
        ready = [i for i in range(len(self.instances)) if i not in cooling]
        return ready + sorted(cooling)

    def _get_from_any_instance(self, secret_name: str, deadline: Optional[float] = None) -> Dict[str, Any]:
        last: Optional[KmsRequestError] = None
        for index in self._order():
            try:
                result = self._get_once(index, secret_name, deadline)
            except KmsRequestError as exc:
                if not exc.retryable:
                    raise
                self._cool_down(index, exc)
                last = exc
                continue
            with self._lock:
                recovered = self._cooling.pop(index, None) is not None
                self._last = index
            if recovered:
                logger.info("dedicated KMS instance %s answers again", self.instances[index].url)
            return result
        assert last is not None
        raise last

    def _cool_down(self, index: int, exc: KmsRequestError) -> None:
        with self._lock:
            fresh = index not in self._cooling
            self._cooling[index] = True
        if fresh and len(self.instances) > 1:
            logger.warning("%s; trying the other instances first for the next %.0f s", exc, self._cooldown_seconds)

    def _get_once(self, index: int, secret_name: str, deadline: Optional[float] = None) -> Dict[str, Any]:
        sdk, instance = self._sdk, self.instances[index]
        request = sdk.GetSecretValueRequest(secret_name=secret_name, fetch_extended_config=True)
        runtime = sdk.RuntimeOptions(autoretry=False)  # tenacity retries, with backoff and failover
        if deadline is not None:  # milliseconds, as the SDK takes them
            runtime.connect_timeout = int(remaining(deadline, self._timeouts[0] / 1000) * 1000) or 1
            runtime.read_timeout = int(remaining(deadline, self._timeouts[1] / 1000) * 1000) or 1
        try:
            response = self._clients[index].get_secret_value_with_options(request, runtime)
        except Exception as exc:  # noqa: BLE001 - every SDK failure becomes a KmsRequestError that says what to fix
            raise _request_error(sdk, exc, instance, secret_name) from None
        return _document(response)

    def _new_clients(self) -> List[Any]:
        sdk, (connect_ms, read_ms) = self._sdk, self._timeouts
        clients = []
        for instance in self.instances:
            config = sdk.Config(access_key_id=instance.key_id, private_key=instance.private_key,
                                endpoint=instance.endpoint, region_id=instance.region_id, protocol="https",
                                connect_timeout=connect_ms, read_timeout=read_ms,
                                ca_file_path=None if instance.ignore_ssl_certs else instance.ca_file,
                                ignore_ssl=instance.ignore_ssl_certs)
            clients.append(sdk.Client(config))
        return clients

    def after_fork_in_child(self) -> None:
        """New SDK clients, lock and HTTP sessions: a keep-alive socket shared with the parent crosses answers."""
        self._lock = threading.Lock()
        self._clients = self._new_clients()
        sessions = getattr(self._sdk.TeaCore, "_sessions", None)  # the SDK's process-wide session pool, by host
        if isinstance(sessions, dict):
            prefixes = tuple(f"https://{instance.endpoint}:" for instance in self.instances)
            for key in [k for k in list(sessions) if isinstance(k, str) and k.startswith(prefixes)]:
                sessions.pop(key, None)  # dropped, not closed: closing would talk TLS on the parent's socket

    def __repr__(self) -> str:
        return f"DkmsClient({', '.join(instance.url for instance in self.instances)})"


def _load_sdk(instance: DkmsInstance) -> SimpleNamespace:
    try:
        from openapi.models import Config
        from openapi_util.models import RuntimeOptions
        from sdk import client as sdk_client
        from sdk.models import GetSecretValueRequest
        from Tea.core import TeaCore
        from Tea.exceptions import TeaException
    except ImportError as exc:
        top = (exc.name or "").split(".")[0]
        where = getattr(sys.modules.get(top), "__file__", None)
        detail = f"cannot import {exc.name or 'it'}" + (f" (the module {top!r} comes from "
                                                        f"{os.path.dirname(os.path.realpath(where))})" if where else "")
        raise ConfigError(_sdk_problem(detail), file=instance.file, key=KEY) from None
    expected = _distribution_file("sdk")
    found = os.path.dirname(os.path.realpath(sdk_client.__file__ or ""))
    if expected and found != expected:
        raise ConfigError(_sdk_problem(f"the module 'sdk' comes from {found}"), file=instance.file, key=KEY)
    return SimpleNamespace(Client=sdk_client.Client, Config=Config, RuntimeOptions=RuntimeOptions,
                           GetSecretValueRequest=GetSecretValueRequest, TeaCore=TeaCore, TeaException=TeaException)


def _sdk_problem(detail: str) -> str:
    if _distribution_file("sdk") is None:
        return f"dedicated KMS instances need the {DKMS_DISTRIBUTION} SDK: pip install " \
               "'managed-credentials-sdk-proxy[dkms]'"
    return (f"the {DKMS_DISTRIBUTION} SDK is installed, but {detail}: another module named sdk, openapi or "
            "openapi_util earlier on sys.path shadows it; rename that module")


def _distribution_file(relative: str) -> Optional[str]:
    from importlib import metadata
    try:
        return os.path.realpath(str(metadata.distribution(DKMS_DISTRIBUTION).locate_file(relative)))
    except metadata.PackageNotFoundError:
        return None


def _document(response: Any) -> Dict[str, Any]:
    """The gateway's answer in the shape of KMS GetSecretValue JSON (empty protobuf fields left out)."""
    document: Dict[str, Any] = {"SecretName": response.secret_name, "SecretData": response.secret_data,
                                "VersionId": response.version_id,
                                "VersionStages": {"VersionStage": list(response.version_stages or [])}}
    for name, attribute in OPTIONAL_FIELDS:
        value = getattr(response, attribute, None)
        if value:
            document[name] = value
    return document


def _request_error(sdk: SimpleNamespace, exc: Exception, instance: DkmsInstance, secret_name: str) -> KmsRequestError:
    data = getattr(exc, "data", None)
    status = data.get("httpCode") if isinstance(data, dict) else None
    if isinstance(exc, sdk.TeaException) and isinstance(status, int):
        code = exc.code or f"HTTP{status}"
        detail = f": {exc.message}" if exc.message and code != "SignatureNotMatch" else ""
        hint = f"; check clientKeyFile {instance.client_key_file} ({instance.where})" if code in KEY_CODES else ""
        return KmsRequestError(f"dedicated KMS instance {instance.url} refused GetSecretValue with HTTP "
                               f"{status}{detail}{hint}", secret_name=secret_name, code=code, status=status,
                               retryable=status >= 500 or status == 429 or code in RETRYABLE_DKMS_CODES)
    causes = list(_causes(exc))
    refused = next((c for c in causes if isinstance(c, ssl.SSLCertVerificationError)), None)
    if refused is not None:
        trust = f"caFilePath {instance.ca_file}" if instance.ca_file else "the system's CA certificates (no caFilePath)"
        return KmsRequestError(f"the TLS certificate of dedicated KMS instance {instance.url} does not verify against "
                               f"{trust} ({refused.verify_message or 'verification failed'}; {instance.where}); set "
                               "caFilePath to this instance's CA certificate", secret_name=secret_name,
                               code="CertificateNotTrusted", status=None, retryable=False)
    if isinstance(exc, sdk.TeaException):  # the SDK's wrapper of a connection failure
        reason = next((type(c).__name__ for c in causes if isinstance(c, OSError) and type(c).__module__ in
                       ("builtins", "ssl", "socket")), "connection failed")
        return KmsRequestError(f"cannot reach dedicated KMS instance {instance.url}: {reason}",
                               secret_name=secret_name, code="SDK.HttpError", status=None, retryable=True)
    return KmsRequestError(f"dedicated KMS instance {instance.url} sent an answer that cannot be read "
                           f"({exc.__class__.__name__})", secret_name=secret_name, code="MalformedResponse",
                           status=None, retryable=True)


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """exc and everything it wraps: the SDK keeps the requests/urllib3 error as inner_exception, __context__,
    ``reason`` or an argument."""
    seen, stack = set(), [exc]
    while stack:
        current = stack.pop()
        if not isinstance(current, BaseException) or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        stack.extend([current.__cause__, current.__context__, getattr(current, "inner_exception", None),
                      getattr(current, "reason", None)])
        stack.extend(arg for arg in current.args if isinstance(arg, BaseException))


def _ignore_unverified_warnings(instance: DkmsInstance) -> None:
    """ignoreSslCerts=true: say so once, here, instead of urllib3's warning on every request to that host."""
    host = instance.endpoint.rsplit(":", 1)[0] if instance.endpoint.count(":") == 1 else instance.endpoint
    logger.warning("dedicated KMS instance %s (%s): ignoreSslCerts=true, so its TLS certificate is NOT verified; "
                   "use caFilePath outside of tests", instance.url, instance.where)
    try:
        from urllib3.exceptions import InsecureRequestWarning
    except ImportError:  # pragma: no cover - requests always brings urllib3
        return
    warnings.filterwarnings("ignore", message=re.escape(f"Unverified HTTPS request is being made to host '{host}'"),
                            category=InsecureRequestWarning)


_live: "weakref.WeakSet[DkmsClient]" = weakref.WeakSet()

if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=lambda: [client.after_fork_in_child() for client in list(_live)])
