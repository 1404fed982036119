"""What sends ProxyQueuedLogHandler's records: a bounded queue and one sender thread that stores every record once.

The rules (docs/sdk/log-service.md says the same to users):

* **A record is kept until it is stored.** The sender takes up to ``batch_size`` queued records that go to the same
  place (project, logstore, topic, source, tags), waits up to ``linger`` seconds for a batch to fill, and sends it as
  one PutLogs. A batch refused for a reason that passes (an expired key the client could not heal yet, no key
  because KMS is unreachable, a network error, a 5xx, throttling) is sent again, whole, after a backoff (0.5 s
  doubling to 30 s, jittered); the records behind it wait in the queue. A batch refused for a reason no retry
  changes (a logstore that does not exist, a body the service rejects) is given up: the handler's ``handleError``
  is called once for it, and its records are counted in ``dropped``.
* **Nothing is sent twice on purpose.** A batch is sent again only after an answer that says nothing was stored
  (an auth refusal is answered before anything is stored), or after a failure where the service may or may not have
  stored it: a read timeout or a connection dropped before the answer. There the batch is sent again (the SDK's own
  LogClient does the same within a call): such a batch can be stored twice, never lost.
* **Bounded.** At most ``capacity`` records wait. When the queue is full, the caller waits up to ``full_wait``
  seconds for room (the SDK's rule: twice ``put_wait``), and then the record is dropped; while the sender is retrying
  a refused batch, or its send has taken longer than ``full_wait`` already (a refresh waiting for KMS, a service that
  does not answer), a full queue drops at once, so a logging call does not wait on an outage.
* **flush()** waits, at most ``timeout`` seconds, until every record queued before the call is stored (or given
  up); the sender keeps running. **close()** does the same and stops the sender; what is still not stored then is
  counted in ``dropped`` and returned.
* **Forks.** The sender thread does not survive fork(). In the child the queue starts empty (what the parent queued
  is the parent's to send: never both) and a sender starts at the child's first record.
"""

import copy
import logging
import random
import sys
import threading
import time
import weakref
from collections import deque
from typing import Any, Callable, Deque, List, Optional, Tuple

from credentials import CredentialsError

logger = logging.getLogger("managed_credentials.proxy")

RETRY_FIRST = 0.5  # seconds before the first retry of a refused batch
RETRY_CAP = 30.0
URGENT_PAUSE = 0.25  # while flush() or close() waits: the longest pause before a retry

# LogException codes that pass with time. Key and signature refusals are among them: the client has already
# refreshed and re-issued once; what remains is a rotation still under way, or KMS down, or a RAM policy that an
# operator fixes. (The SDK gives its client-side errors, a network failure included, HTTP status 200.)
TRANSIENT_CODES = frozenset(
    {
        "LogRequestError",  # no answer: connection refused or reset, timeout (the SDK already tried 10 times)
        "RequestTimeout",
        "InternalServerError",
        "ServerBusy",
        "WriteQuotaExceed",  # throttling (403)
        "ShardWriteQuotaExceed",
        "ExceedQuota",
        "RequestTimeExpired",  # this machine's clock is off: fixed by NTP
        "Unauthorized",
        "InvalidAccessKeyId",
        "InvalidAccessKeyId.NotFound",
        "SecurityTokenExpired",
        "SecurityToken.Expired",
        "SignatureNotMatch",
    }
)

ACCEPTED, FULL, CLOSED, NO_SENDER = "accepted", "full", "closed", "no sender"

Item = Tuple[Any, logging.LogRecord]  # (a PutLogsRequest of one LogItem, the record it was made from)


def is_transient(exc: BaseException) -> bool:
    """Whether a batch refused with ``exc`` is worth sending again later."""
    if isinstance(exc, CredentialsError):  # no key yet: KMS unreachable
        return True
    getter = getattr(exc, "get_error_code", None)
    if not callable(getter) or not hasattr(exc, "resp_status"):
        return False  # not a LogException: a bug, not an outage
    status = exc.resp_status
    return getter() in TRANSIENT_CODES or (isinstance(status, int) and (status >= 500 or status in (401, 429)))


class Shipper:
    """The queue and its sender thread. ``send(request)`` stores one PutLogsRequest or raises; ``give_up(records,
    exc)`` is called (in an ``except`` block) for a batch refused for good."""

    def __init__(
        self,
        send: Callable[[Any], Any],
        give_up: Callable[[List[logging.LogRecord], BaseException], None],
        *,
        capacity: int,
        batch_size: int,
        linger: float,
        exit_wait: float = 5.0,
        name: str = "log-service-sender",
    ) -> None:
        self._send = send
        self._give_up = give_up
        self.capacity = max(1, int(capacity))
        self.batch_size = max(1, min(int(batch_size), self.capacity))
        self.linger = float(linger)
        self.exit_wait = float(exit_wait)  # how long a multiprocessing child's exit waits for its records
        self.name = name
        self._init_state()

    def _init_state(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._items: Deque[Tuple[Any, logging.LogRecord, float]] = deque()
        self._queued = 0  # records accepted, ever (in this process)
        self._done = 0  # records stored or given up
        self.dropped = 0  # records not accepted, given up, or left unsent at close
        self.thread: Optional[threading.Thread] = None
        self._urgent = 0  # flush() / close() calls waiting: no lingering, short pauses
        self._closing = False
        self._abandoned = False  # close() has given up waiting: the sender stops at its next step
        self._failing = False  # the batch in hand was refused and waits for its retry
        self._sending_since: Optional[float] = None  # when the send in progress began (None: not sending)

    # --- the caller's side -------------------------------------------------------------------------------------------

    def put(self, request: Any, record: logging.LogRecord, full_wait: float) -> str:
        """Queue one request: ACCEPTED, or why not (FULL, CLOSED, NO_SENDER: no thread can be started, the
        interpreter is exiting; the caller sends it itself)."""
        with self._cond:
            if self._closing:
                self.dropped += 1
                return CLOSED
            if self.thread is None and not self._start_locked():
                return NO_SENDER
            deadline = None
            while len(self._items) >= self.capacity:
                now = time.monotonic()
                deadline = now + full_wait if deadline is None else deadline
                if self._failing or self._closing or now >= deadline or self._stuck(now, full_wait):
                    self.dropped += 1
                    return FULL
                self._cond.wait(deadline - now)
            self._items.append((request, record, time.monotonic()))
            self._queued += 1
            if len(self._items) == 1 or len(self._items) >= self.batch_size:
                self._cond.notify_all()
            return ACCEPTED

    def _stuck(self, now: float, full_wait: float) -> bool:
        """The send in progress began more than ``full_wait`` ago (a refresh waiting for KMS, the SDK's own retries,
        a service that does not answer): waiting for room would be waiting on an outage."""
        since = self._sending_since
        return since is not None and now - since > full_wait

    def flush(self, timeout: float) -> bool:
        """Wait until every record queued before this call is stored or given up; False when ``timeout`` passed."""
        with self._cond:
            target, end = self._queued, time.monotonic() + timeout
            self._urgent += 1
            self._cond.notify_all()
            try:
                while self._done < target and self.thread is not None and not self._abandoned:
                    remaining = end - time.monotonic()
                    if remaining <= 0:
                        break
                    self._cond.wait(remaining)
                return self._done >= target
            finally:
                self._urgent -= 1

    def close(self, timeout: float) -> int:
        """Send what is queued (at most ``timeout`` seconds), stop the sender; the records left unsent."""
        with self._cond:
            if self._closing:
                return 0
            self._closing = True
            self._cond.notify_all()
            thread = self.thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        with self._cond:
            left = self._queued - self._done
            if left:
                self._abandoned = True
                self.dropped += left
                self._cond.notify_all()
        return left

    def is_sender(self) -> bool:
        return self.thread is not None and threading.current_thread() is self.thread

    @property
    def pending(self) -> int:
        """Records queued or being sent, not yet stored or given up."""
        return self._queued - self._done

    def _after_fork_in_child(self) -> None:
        """The parent's queue and sender are the parent's: the child starts empty, its sender at its first record."""
        self._init_state()

    # --- the sender thread -------------------------------------------------------------------------------------------

    def _start_locked(self) -> bool:
        thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        try:
            thread.start()
        except RuntimeError:  # the interpreter is exiting: no new threads
            return False
        self.thread = thread
        _flush_at_multiprocessing_exit(self)
        return True

    def _run(self) -> None:
        while True:
            batch = self._next_batch()
            if batch is None:
                return
            stored_or_given_up = self._deliver(batch)
            with self._cond:
                if stored_or_given_up:
                    self._done += len(batch)
                self._cond.notify_all()
                if not stored_or_given_up:
                    return  # abandoned by close(), which counted these records

    def _next_batch(self) -> Optional[List[Item]]:
        with self._cond:
            while not self._items:
                if self._closing or self._abandoned:
                    return None
                self._cond.wait()
            lingering_until = self._items[0][2] + self.linger
            while len(self._items) < self.batch_size and not (self._urgent or self._closing):
                remaining = lingering_until - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
            if self._abandoned:
                return None
            batch = self._take_locked()
            self._cond.notify_all()  # room for callers waiting on a full queue
            return batch

    def _take_locked(self) -> List[Item]:
        first, record, _ = self._items.popleft()
        batch: List[Item] = [(first, record)]
        where = _destination(first)
        while self._items and len(batch) < self.batch_size and _destination(self._items[0][0]) == where:
            request, record, _ = self._items.popleft()
            batch.append((request, record))
        return batch

    def _deliver(self, batch: List[Item]) -> bool:
        """Send the batch until it is stored (True) or refused for good (True, given up); False: abandoned."""
        request = _merged(batch)
        delay, attempts = RETRY_FIRST, 0
        while True:
            self._sending_since = time.monotonic()
            try:
                self._send(request)
            except Exception as exc:  # noqa: BLE001 - every failure is judged: retried, or given up and reported
                self._sending_since = None
                if not is_transient(exc):
                    self._failing = False
                    with self._cond:
                        self.dropped += len(batch)
                    self._give_up([record for _, record in batch], exc)
                    return True
                attempts += 1
                if attempts == 1:
                    logger.warning(
                        "Log Service handler: %d records not stored yet (%s); sending them again with backoff, new "
                        "records keep queueing (%d waiting, room for %d)",
                        len(batch),
                        _describe(exc),
                        len(self._items),
                        self.capacity,
                    )
                self._failing = True
                if not self._pause(delay * random.uniform(0.5, 1.0)):
                    return False
                delay = min(delay * 2, RETRY_CAP)
                continue
            self._sending_since = None
            if attempts:
                logger.info("Log Service handler: %d records stored after %d attempts", len(batch), attempts + 1)
            self._failing = False
            return True

    def _pause(self, seconds: float) -> bool:
        """Wait before a retry (shortened while flush() or close() waits); False when close() gave up."""
        with self._cond:
            end = time.monotonic() + seconds
            while not self._abandoned:
                now = time.monotonic()
                if self._urgent or self._closing:
                    end = min(end, now + URGENT_PAUSE)
                if now >= end:
                    return True
                self._cond.wait(end - now)
            return False


def _destination(request: Any) -> List[Tuple[str, Any]]:
    """Everything of a request but its log items: requests equal here can be sent as one."""
    return sorted((name, value) for name, value in vars(request).items() if name != "logitems")


def _merged(batch: List[Item]) -> Any:
    first = batch[0][0]
    if len(batch) == 1:
        return first
    merged = copy.copy(first)
    merged.set_log_items([item for request, _ in batch for item in request.get_log_items()])
    return merged


def _describe(exc: BaseException) -> str:
    getter = getattr(exc, "get_error_code", None)
    code = getter() if callable(getter) else None
    return f"{type(exc).__name__} {code}" if code else type(exc).__name__


def _flush_at_multiprocessing_exit(shipper: Shipper) -> None:
    """A multiprocessing child ends with os._exit(), after its finalizers but without logging.shutdown(): flush
    there too, so that its records are stored before it ends (only in a multiprocessing child)."""
    if "multiprocessing" not in sys.modules:
        return
    import multiprocessing
    from multiprocessing import util

    if multiprocessing.parent_process() is None:
        return
    util.Finalize(shipper, _flush_if_alive, args=(weakref.ref(shipper),), exitpriority=10)


def _flush_if_alive(reference: "weakref.ref[Shipper]") -> None:
    shipper = reference()
    if shipper is not None:
        shipper.flush(shipper.exit_wait)
