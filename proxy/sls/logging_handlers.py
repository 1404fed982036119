"""Log Service logging handlers that sign with a managed key: ProxyQueuedLogHandler, ProxySimpleLogHandler and
ProxyUwsgiQueuedLogHandler, subclasses of aliyun-log-python-sdk's QueuedLogHandler, SimpleLogHandler and
UwsgiQueuedLogHandler.

They take ``secret_name=`` or ``credentials_provider=`` where the SDK's take ``access_key_id`` / ``access_key``;
every other keyword (topic, fields, queue_size, put_wait, close_wait, batch_size, extract_json, ..., auth_version,
region, level) passes through, so they are configured from ``logging.config.dictConfig`` and ``fileConfig`` as the
SDK's are. Records are formatted by the SDK's own ``make_request``; they are sent by a ProxyLogClient, so a request
refused because the key was rotated or revoked is signed anew and sent again.

What differs from the SDK's handlers, and why: the SDK's QueuedLogHandler drops a whole batch on any failed send,
and its ``flush()`` stops its sender for good. Here the queued handlers send through ``shipper.Shipper`` (a record
is kept until it is stored; ``flush()`` waits for the queue, bounded; see there), the sender thread starts at the
first record (not in the constructor, so ``dictConfig`` starts no thread and a process that forks before logging
gets its sender in each child), and nothing is registered with ``atexit``: ``logging.shutdown()`` (which Python runs
at exit) calls ``flush()`` and ``close()``. Records logged on the sender's own thread while it sends (urllib3's and
our own lines about that send) are not shipped by the handler: they would feed back into it.
"""

import logging
import threading
from typing import Any, Dict, List, Optional, Tuple, cast

from aliyun.log.logger_hanlder import QueuedLogHandler, SimpleLogHandler, UwsgiQueuedLogHandler
from aliyun.log.version import LOGGING_HANDLER_USER_AGENT

from credentials import CredentialsProvider

from ..handlers import AKExpireHandler
from ..source import KeySource, refuse_key_arguments, reset_http_after_fork
from .client import ProxyLogClient, check_provider
from .shipper import ACCEPTED, FULL, NO_SENDER, Shipper

_KEY_ARGUMENTS = ("access_key_id", "access_key")


class RecordNotQueued(Exception):
    """Why a record was dropped before it was queued (what ``handleError`` prints)."""


class _ManagedHandler:
    """What the three handlers share: the key source, the client, the arguments check, the lifecycle."""

    end_point: str
    auth_version: Any
    region: Any
    client: Optional[ProxyLogClient]
    _key_source: KeySource

    def _manage(
        self,
        misplaced: Tuple[Any, ...],
        kwargs: Dict[str, Any],
        secret_name: Optional[str],
        credentials_provider: Optional[CredentialsProvider],
        ak_expire_handler: Optional[AKExpireHandler],
    ) -> None:
        name = type(self).__name__
        if misplaced:
            raise TypeError(
                f"{name} takes the endpoint, then keywords: {name}(end_point, project=..., log_store=..., "
                "secret_name='my-ram-secret'). The SDK's (end_point, access_key_id, access_key, project, log_store, "
                "...) form does not apply, since the key comes from a managed secret (in fileConfig: "
                "args=('cn-hangzhou.log.aliyuncs.com',) and kwargs={'project': ..., 'log_store': ..., "
                "'secret_name': ...})"
            )
        refuse_key_arguments(kwargs, _KEY_ARGUMENTS, name)
        for key in ("end_point", "project", "log_store"):
            if not kwargs.get(key):
                raise ValueError(f"{name} needs {key}= (the Log Service endpoint, project and logstore to ship to)")
        check_provider(credentials_provider, name)
        self._key_source = KeySource(secret_name, credentials_provider, name)
        self._ak_expire_handler = ak_expire_handler
        self._sending = threading.local()

    def create_client(self) -> None:
        """The client records are sent with (made at the first send, as the SDK's handlers do)."""
        client = ProxyLogClient(
            self.end_point,
            credentials_provider=self._key_source.provider,
            ak_expire_handler=self._ak_expire_handler,
            auth_version=self.auth_version,
            region=self.region,
        )
        client.set_user_agent(LOGGING_HANDLER_USER_AGENT)
        self.client = client

    @property
    def credentials_provider(self) -> CredentialsProvider:
        return self._key_source.provider

    def _release(self) -> None:
        client, self.client = self.client, None
        if client is not None:
            client.shutdown()
        self._key_source.release()


def _sdk_arguments(kwargs: Dict[str, Any]) -> Tuple[Any, ...]:
    """The SDK constructor's positional head: end_point, the key pair (none: ours signs), project, log_store."""
    return kwargs.pop("end_point"), None, None, kwargs.pop("project"), kwargs.pop("log_store")


class ProxySimpleLogHandler(_ManagedHandler, SimpleLogHandler):
    """aliyun.log's SimpleLogHandler with a managed key: each record is sent at once, in the logging caller's
    thread. A revoked key is healed; a record that cannot be stored (KMS down and the key revoked, the service down)
    goes to ``handleError`` and is lost, as with the SDK's handler: use ProxyQueuedLogHandler where that matters.

    ``ProxySimpleLogHandler(end_point, project=..., log_store=..., secret_name=...)``; other keywords as the SDK's."""

    def __init__(
        self,
        end_point: Optional[str] = None,
        *misplaced: Any,
        secret_name: Optional[str] = None,
        credentials_provider: Optional[CredentialsProvider] = None,
        ak_expire_handler: Optional[AKExpireHandler] = None,
        **kwargs: Any,
    ) -> None:
        kwargs["end_point"] = end_point
        self._manage(misplaced, kwargs, secret_name, credentials_provider, ak_expire_handler)
        try:
            SimpleLogHandler.__init__(self, *_sdk_arguments(kwargs), **kwargs)
        except BaseException:
            self._key_source.release()
            raise

    def handle(self, record: logging.LogRecord) -> Any:
        if getattr(self._sending, "active", False):
            return False  # logged while this handler sends (urllib3, our re-issue line): not shipped, no loop
        return super().handle(record)

    def send(self, req: Any) -> Any:
        self._sending.active = True
        try:
            return super().send(req)
        finally:
            self._sending.active = False

    def close(self) -> None:
        try:
            self._release()
        finally:
            super().close()


class _Queued(_ManagedHandler):
    """The queued handlers' behaviour over the SDK's QueuedLogHandler (see shipper.py)."""

    put_wait: float
    close_wait: float
    queue_size: int
    batch_size: int
    _shipper: Shipper

    def _queued_init(self, sdk_init: Any, misplaced: Tuple[Any, ...], kwargs: Dict[str, Any], *keys: Any) -> None:
        self._manage(misplaced, kwargs, *keys)
        try:
            sdk_init(*_sdk_arguments(kwargs), **kwargs)
        except BaseException:
            self._key_source.release()
            raise
        reset_http_after_fork(self)

    def init_worker(self) -> None:
        """Called by the SDK's constructor: the queue; its sender thread starts at the first record."""
        self._shipper = Shipper(
            cast(Any, self).send,
            self._gave_up,
            capacity=self.queue_size,
            batch_size=self.batch_size,
            linger=self.put_wait,
            exit_wait=self.close_wait,
            name=f"{type(self).__name__}-sender",
        )

    @property
    def worker(self) -> Optional[threading.Thread]:
        """The sender thread (None before the first record, and in a forked child until its first record)."""
        return self._shipper.thread

    @property
    def dropped(self) -> int:
        """Records not stored: dropped on a full queue or after close, or refused for good by the service."""
        return self._shipper.dropped

    @property
    def pending(self) -> int:
        """Records queued or being sent, not stored yet."""
        return self._shipper.pending

    def handle(self, record: logging.LogRecord) -> Any:
        if self._shipper.is_sender() or getattr(self._sending, "active", False):
            return False  # logged by the sender while it sends, or by this handler itself: not shipped, no loop
        return super().handle(record)  # type: ignore[misc]

    def emit(self, record: logging.LogRecord) -> None:
        try:
            request = self.make_request(record)  # type: ignore[attr-defined]
            outcome = self._shipper.put(request, record, self.put_wait * 2)
            if outcome == NO_SENDER:  # the interpreter is exiting and no sender ran yet: send it here
                self._sending.active = True
                try:
                    self.send(request)  # type: ignore[attr-defined]
                finally:
                    self._sending.active = False
            elif outcome == FULL:
                raise RecordNotQueued(f"Log Service handler: queue full ({self._shipper.capacity} records): dropped")
            elif outcome != ACCEPTED:
                raise RecordNotQueued("Log Service handler: closed: record dropped")
        except Exception:  # noqa: BLE001 - logging's rule: a handler reports through handleError, never raises
            self.handleError(record)  # type: ignore[attr-defined]

    def _gave_up(self, records: List[logging.LogRecord], exc: BaseException) -> None:
        """A batch the service refused for good (called inside the except block, so handleError shows why)."""
        logging.getLogger("managed_credentials.proxy").debug(
            "Log Service handler: %d records refused for good", len(records)
        )
        self.handleError(records[0])  # type: ignore[attr-defined]

    def flush(self) -> None:
        """Wait, at most ``close_wait`` seconds, until every record logged before the call is stored. The sender
        keeps running (the SDK's flush() stopped it for good)."""
        self._shipper.flush(self.close_wait)

    def stop(self) -> None:
        """Send what is queued (at most ``close_wait`` seconds) and stop the sender, for good."""
        left = self._shipper.close(self.close_wait)
        if left:
            self._sending.active = True  # this line goes to the other handlers, not into this closed one
            try:
                self._log_lost(left)
            finally:
                self._sending.active = False

    def _log_lost(self, left: int) -> None:
        logging.getLogger("managed_credentials.proxy").error(
            "Log Service handler %s/%s: %d records not stored within close_wait (%.1f s): lost",
            getattr(self, "project", "?"),
            getattr(self, "log_store", "?"),
            left,
            self.close_wait,
        )

    def close(self) -> None:
        try:
            self.stop()
            self._release()
        finally:
            logging.Handler.close(self)  # type: ignore[arg-type]

    def _after_fork_in_child(self) -> None:
        """The sender thread does not survive fork(): the child's queue starts empty (the parent sends what it
        queued), its sender starts at its first record, on connections of its own."""
        self._shipper._after_fork_in_child()


class ProxyQueuedLogHandler(_Queued, QueuedLogHandler):  # type: ignore[misc]  # worker: a property here
    """aliyun.log's QueuedLogHandler with a managed key, and no record lost to a rotation, a revocation, a KMS or
    Log Service outage shorter than the queue, or the program's exit (see proxy/sls/shipper.py).

    ``ProxyQueuedLogHandler(end_point, project=..., log_store=..., secret_name=...)`` (or ``credentials_provider=``);
    other keywords as the SDK's (queue_size, put_wait, close_wait, batch_size, topic, fields, ...)."""

    def __init__(
        self,
        end_point: Optional[str] = None,
        *misplaced: Any,
        secret_name: Optional[str] = None,
        credentials_provider: Optional[CredentialsProvider] = None,
        ak_expire_handler: Optional[AKExpireHandler] = None,
        **kwargs: Any,
    ) -> None:
        kwargs["end_point"] = end_point
        self._queued_init(
            lambda *a, **k: QueuedLogHandler.__init__(self, *a, **k),
            misplaced,
            kwargs,
            secret_name,
            credentials_provider,
            ak_expire_handler,
        )


class ProxyUwsgiQueuedLogHandler(_Queued, UwsgiQueuedLogHandler):  # type: ignore[misc]  # as above
    """aliyun.log's UwsgiQueuedLogHandler with a managed key: ProxyQueuedLogHandler's behaviour, ``close_wait``
    2 s by default (the SDK's for uWSGI), and a uWSGI ``postfork`` hook that empties each worker's copy of the
    queue (uWSGI forks without Python's fork hooks unless told to). Needs uWSGI (``uwsgidecorators``) and
    ``--enable-threads``."""

    def __init__(
        self,
        end_point: Optional[str] = None,
        *misplaced: Any,
        secret_name: Optional[str] = None,
        credentials_provider: Optional[CredentialsProvider] = None,
        ak_expire_handler: Optional[AKExpireHandler] = None,
        **kwargs: Any,
    ) -> None:
        kwargs["end_point"] = end_point
        kwargs.setdefault("close_wait", None)  # None: the SDK's uWSGI default (2 s)
        self._queued_init(
            lambda *a, **k: UwsgiQueuedLogHandler.__init__(self, *a, **k),
            misplaced,
            kwargs,
            secret_name,
            credentials_provider,
            ak_expire_handler,
        )

    def init_worker(self) -> None:
        import importlib

        super().init_worker()
        importlib.import_module("uwsgidecorators").postfork(self._after_fork_in_child)  # only under uWSGI
