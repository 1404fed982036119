"""CloudEmulator: the facade tests and samples use. One listener (one port) per service, all on 127.0.0.1.

    with CloudEmulator() as cloud:
        key_id, key_secret = cloud.create_secret("my-ram-secret")
        ...

More services plug in with add_service(name, handler): any object with `name` and
`handle(request) -> Response` (see server.py); RPC-style APIs can subclass rpc.RpcService.
"""

import threading
import time
from functools import partialmethod
from typing import Callable, Dict, Iterable, List, Optional, Tuple, Union

from . import credentials_uri, cs, dkms, metadata, mns, ots, sls, sts
from .ecs import EcsService
from .kms import KmsService
from .oss import OssService
from .records import CallRecord, Fault, new_security_token, write_properties_file
from .server import Listener
from .state import CloudState

KeyPair = Tuple[str, str]


class CloudEmulator:
    def __init__(
        self,
        region_id: str = "cn-hangzhou",
        *,
        auto_create_buckets: bool = True,
        body_timeout: float = 5.0,
        host: str = "127.0.0.1",
    ):
        self.region_id = region_id
        self.host = host
        self.body_timeout = body_timeout
        self.state = CloudState()
        self._lock = threading.RLock()
        self._listeners: Dict[str, Listener] = {}
        self._started = False
        kms_key = self.state.add_key(kms_allowed=True)
        self.kms_access_key: KeyPair = (kms_key.access_key_id, kms_key.access_key_secret)
        self.add_service("kms", KmsService(self.state, region_id))
        self.add_service("ecs", EcsService(self.state, region_id))
        self.add_service("oss", OssService(self.state, region_id, auto_create_buckets=auto_create_buckets))
        sts.add_to(self)  # STS over TLS (cloud.sts), ECS instance metadata (cloud.metadata), credentials URI
        metadata.add_to(self)
        credentials_uri.add_to(self)
        dkms.add_to(self)  # dedicated KMS instance gateways over TLS (cloud.dkms), on the same secrets
        cs.add_to(self)  # a ROA API (Container Service clusters): cloud.cs, cloud.cs_host
        sls.add_to(self)  # Log Service: cloud.sls, cloud.sls_endpoint (its project names need loopback_names.py)
        mns.add_to(self)  # Message Service: cloud.mns, cloud.mns_endpoint
        ots.add_to(self)  # Tablestore: cloud.ots, cloud.ots_endpoint

    # ---- lifecycle ---------------------------------------------------------------------------------------------

    def start(self) -> "CloudEmulator":
        with self._lock:
            try:
                for listener in self._listeners.values():
                    listener.start()
            except BaseException:
                self.stop()
                raise
            self._started = True
        return self

    def stop(self) -> None:
        """Stop every listener (closing sockets, joining threads). Idempotent.

        All at once: each waits up to one poll interval (50 ms) for its serving loop, and a test pays the sum."""
        with self._lock:
            self._started = False
            stopping = [
                threading.Thread(target=listener.stop, name="stop-%s" % name, daemon=True)
                for name, listener in self._listeners.items()
            ]
            for thread in stopping:
                thread.start()
            for thread in stopping:
                thread.join(10.0)

    def __enter__(self) -> "CloudEmulator":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ---- services ----------------------------------------------------------------------------------------------

    def add_service(self, name: str, handler, tls: bool = False, ssl_context=None, port: int = 0) -> Listener:
        """Serve `handler` on its own port; started at once if the emulator is running.

        tls=True needs an ssl.SSLContext (server side, with its certificate loaded) as ssl_context.
        """
        if tls and ssl_context is None:
            raise NotImplementedError(
                "tls=True needs ssl_context=<server ssl.SSLContext>; the emulator does not "
                "make certificates itself (yet)"
            )
        with self._lock:
            if name in self._listeners:
                raise ValueError("service %r already added" % name)
            listener = Listener(
                handler,
                host=self.host,
                port=port,
                ssl_context=ssl_context if tls else None,
                body_timeout=self.body_timeout,
                name=name,
            )
            self._listeners[name] = listener
            if self._started:
                listener.start()
            return listener

    def listener(self, name: str) -> Listener:
        return self._listeners[name]

    def endpoint(self, name: str) -> str:
        """scheme://127.0.0.1:PORT of a service."""
        return self._started_listener(name).endpoint

    def host_of(self, name: str) -> str:
        """127.0.0.1:PORT of a service."""
        return self._started_listener(name).address

    def service_down(self, name: str) -> None:
        """Close the service's port (connection refused) and cut its open connections."""
        self._listeners[name].stop()

    def service_up(self, name: str) -> None:
        """Re-open the service on the same port."""
        self._listeners[name].start()

    def _started_listener(self, name: str) -> Listener:
        listener = self._listeners[name]
        if not listener.port:
            raise RuntimeError("the emulator is not started: call start() first")
        return listener

    kms_endpoint = property(lambda self: self.endpoint("kms"))
    kms_host = property(lambda self: self.host_of("kms"))
    ecs_endpoint = property(lambda self: self.endpoint("ecs"))
    ecs_host = property(lambda self: self.host_of("ecs"))
    oss_endpoint = property(lambda self: self.endpoint("oss"))
    oss_host = property(lambda self: self.host_of("oss"))
    cs_endpoint = property(lambda self: self.endpoint("cs"))
    cs_host = property(lambda self: self.host_of("cs"))
    sls_endpoint = property(lambda self: self.host_of("sls"))  # LogClient takes host:port (http)
    mns_endpoint = property(lambda self: self.endpoint("mns"))
    ots_endpoint = property(lambda self: self.endpoint("ots"))

    # ---- keys and secrets --------------------------------------------------------------------------------------

    def create_secret(
        self, name: str, rotation_interval: Optional[int] = 604800, secret_type: str = "RAMCredentials"
    ) -> KeyPair:
        """A managed secret whose current SecretData holds a new access key pair (which ECS and OSS accept)."""
        key = self.state.create_secret(name, rotation_interval, secret_type)
        return key.access_key_id, key.access_key_secret

    def rotate_secret(self, name: str, mode: str = "revoke") -> KeyPair:
        """A new key pair becomes ACSCurrent. mode="revoke": the old key fails at once; "grace": the old key keeps
        working until revoke_key() (a RAM user holds at most two keys, so any older one is deleted)."""
        if mode not in ("revoke", "grace"):
            raise ValueError("mode must be 'revoke' or 'grace'")
        key = self.state.rotate_secret(name, revoke_old=(mode == "revoke"))
        return key.access_key_id, key.access_key_secret

    def current_key(self, name: str) -> KeyPair:
        key = self.state.current_key(name)
        return key.access_key_id, key.access_key_secret

    def set_secret_data(self, name: str, raw_text: str) -> None:
        """Make the current SecretData exactly raw_text (a new version, as PutSecretValue would). The key the
        secret generated stays live; rotate_secret() puts well-formed data back."""
        self.state.set_secret_data(name, raw_text)

    def set_next_rotation_date(self, name: str, epoch_seconds: Optional[float]) -> None:
        """Override the NextRotationDate reported (None: back to last rotation + interval)."""
        self.state.set_next_rotation(name, epoch_seconds)

    def set_kms_answer(self, name: str, body: Optional[bytes]) -> None:
        """GetSecretValue of this secret (signed and authorised as usual) answers HTTP 200 with exactly `body`, a
        hostile or broken answer that KMS itself never sends (None: the real answer again)."""
        self.state.set_answer(name, body)

    def revoke_key(self, access_key_id: str) -> None:
        """Delete the key: RPC -> InvalidAccessKeyId.NotFound, OSS -> InvalidAccessKeyId."""
        self.state.set_key_status(access_key_id, "Deleted")

    def disable_key(self, access_key_id: str) -> None:
        """Make the key inactive: RPC -> InvalidAccessKeyId.Inactive, OSS -> InvalidAccessKeyId."""
        self.state.set_key_status(access_key_id, "Inactive")

    def enable_key(self, access_key_id: str) -> None:
        self.state.set_key_status(access_key_id, "Active")

    def add_access_key(
        self,
        access_key_id: Optional[str] = None,
        access_key_secret: Optional[str] = None,
        security_token: Optional[str] = None,
        expires_at: Optional[float] = None,
    ) -> KeyPair:
        """A plain key that ECS, OSS and KMS accept. With security_token (pass True for a generated one, then read
        it with security_token_of) requests must carry that token; after expires_at (epoch seconds) they get
        InvalidSecurityToken.Expired (RPC) / SecurityTokenExpired (OSS)."""
        if security_token is True:
            security_token = new_security_token()
        key = self.state.add_key(
            access_key_id,
            access_key_secret,
            security_token=security_token or None,
            expires_at=expires_at,
            kms_allowed=True,
        )
        return key.access_key_id, key.access_key_secret

    def security_token_of(self, access_key_id: str) -> Optional[str]:
        key = self.state.get_key(access_key_id)
        return key.security_token if key else None

    def deny_kms(self, access_key_id: str) -> None:
        """KMS answers 403 Forbidden.NoPermission to this caller."""
        self.state.set_kms_denied(access_key_id, True)

    def allow_kms(self, access_key_id: str) -> None:
        """Undo deny_kms()."""
        self.state.set_kms_denied(access_key_id, False)

    # ---- faults (KMS) ------------------------------------------------------------------------------------------

    def service_fault(
        self,
        service: str,
        status: Optional[int] = None,
        code: Optional[str] = None,
        times: Optional[int] = None,
        delay: Optional[float] = None,
        message: Optional[str] = None,
    ) -> None:
        """The next `times` requests to `service` (None: until clear_faults) are delayed by `delay` seconds and/or
        answered with HTTP `status` and the service's own error document with `code`. With neither status nor delay:
        503 ServiceUnavailable. One fault per service at a time: a new call replaces the previous one. Services that
        take faults: kms (also as kms_fault(...)), ecs, cs, sls, mns, ots."""
        if status is None and delay is None:
            status = 503
        if status is not None and code is None:
            code = "ServiceUnavailable" if status == 503 else None
        self.state.set_fault(service, Fault(status=status, code=code, message=message, delay=delay, remaining=times))

    kms_fault = partialmethod(service_fault, "kms")

    def kms_throttle(
        self,
        seconds: Optional[float] = None,
        times: Optional[int] = None,
        retry_after: Optional[str] = None,
        clock: Optional[Callable[[], float]] = None,
    ) -> None:
        """KMS answers HTTP 429 Rejected.Throttling ("QPS Limit Exceeded", as KMS documents its quota's answer) for
        the next `seconds` (measured on `clock`, default time.monotonic: a test may pass the clock it gives the
        provider) and/or the next `times` requests; with neither, until clear_faults(). `retry_after`: the
        Retry-After header of each answer (shared KMS documents none)."""
        now = (clock or time.monotonic)()
        self.state.set_fault(
            "kms",
            Fault(
                status=429,
                code="Rejected.Throttling",
                message="QPS Limit Exceeded",
                remaining=times,
                until=now + seconds if seconds is not None else None,
                clock=clock,
                retry_after=retry_after,
            ),
        )

    def kms_hold(self, times: Optional[int] = None, limit: float = 60.0) -> threading.Event:
        """The next `times` KMS requests (None: until clear_faults) are held unanswered until the returned event is
        set (or the emulator stops, or `limit` seconds pass), then answered as usual: a KMS that takes exactly as
        long as the test wants. `kms_held()` counts the requests being held now."""
        gate = threading.Event()
        self.state.set_fault("kms", Fault(delay=limit, remaining=times, gate=gate))
        return gate

    def kms_held(self) -> int:
        """How many KMS requests are held at a kms_hold() gate now (arrived, not yet answered)."""
        return self.state.held("kms")

    def kms_down(self) -> None:
        self.service_down("kms")

    def kms_up(self) -> None:
        self.service_up("kms")

    def clear_faults(self) -> None:
        self.state.clear_faults()

    # ---- observation -------------------------------------------------------------------------------------------

    def count(
        self,
        action: Optional[str] = None,
        access_key_id: Optional[str] = None,
        code: Optional[str] = None,
        service: Optional[str] = None,
    ) -> int:
        """Requests answered so far, filtered; code="OK" counts successes, None counts all."""
        return self.state.count(action, access_key_id, code, service)

    @property
    def calls(self) -> List[CallRecord]:
        return self.state.calls()

    def reset_counts(self) -> None:
        self.state.reset_calls()

    def wait_for(self, action: str, n: int = 1, timeout: float = 5.0, **filters) -> bool:
        """Poll until count(action, **filters) >= n or the timeout passes; True if reached."""
        deadline = time.monotonic() + timeout
        while True:
            if self.count(action, **filters) >= n:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)

    # ---- OSS data ----------------------------------------------------------------------------------------------

    def create_bucket(self, name: str) -> None:
        self.state.create_bucket(name)

    def oss_object(self, bucket: str, key: str) -> Optional[bytes]:
        obj = self.state.get_object(bucket, key)
        return obj.data if obj else None

    # ---- configuration for the library under test --------------------------------------------------------------

    def write_properties(self, path: str, secret_names: Union[None, str, Iterable[str]] = None) -> str:
        """Write a managed_credentials_providers.properties that reaches this emulator's KMS with kms_access_key."""
        key_id, key_secret = self.kms_access_key
        lines = [
            "# written by tests.cloud.CloudEmulator",
            "credentials_type=ak",
            "credentials_access_key_id=%s" % key_id,
            "credentials_access_secret=%s" % key_secret,
            'cache_client_region_id=[{"regionId":"%s","endpoint":"%s"}]' % (self.region_id, self.kms_endpoint),
        ]
        return write_properties_file(path, lines, secret_names)

    def write_client_key_properties(self, path: str, **options) -> str:
        """credentials_type=client_key: this emulator's KMS reached with an application client key (kms.py)."""
        from .kms import write_client_key_properties

        return write_client_key_properties(self, path, **options)

    def add_kms_instance(self, name: str = "kms-instance", ca=None) -> Tuple[str, str]:
        """KMS's standard API on a TLS listener of its own, as a KMS instance endpoint serves it, with a certificate
        from `ca` (default: a new CA, not the process's test CA). (host, ca_file): an item's endpoint and caFilePath."""
        from .tls import TestCA

        ca = ca or TestCA()
        service = KmsService(self.state, self.region_id)
        service.name = name  # its calls are counted apart: cloud.count(..., service=name)
        self.add_service(name, service, tls=True, ssl_context=ca.server_context())
        return self.host_of(name), ca.ca_file

    def write_dkms_properties(self, path: str, **options) -> str:
        """A properties file in the upstream plugin's DKMS form for this emulator's instance gateways (dkms.py)."""
        return self.dkms.write_properties(path, **options)

    def __repr__(self):
        return "<CloudEmulator %s>" % ", ".join(repr(listener) for listener in self._listeners.values())
