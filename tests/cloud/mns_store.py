"""Message Service data: queues with their messages (visibility, receipt handles, dequeue counts), topics and the
subscriptions that push a topic's messages into a queue. One lock; every answer is a copy."""

import hashlib
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Dict, List, Optional

from .records import new_oss_request_id, random_text

DEFAULT_VISIBILITY = 30  # seconds, as a queue created without attributes has
DEFAULT_PRIORITY = 8


class MnsError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__("%s %s: %s" % (status, code, message))
        self.status, self.code, self.message = status, code, message


def no_queue(name: str) -> MnsError:
    return MnsError(404, "QueueNotExist", "The queue name you provided is not exist: %s." % name)


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class Message:
    message_id: str
    body: str  # as the XML carried it (the SDK base64-encodes queue messages by default)
    enqueue_time: int
    priority: int = DEFAULT_PRIORITY
    next_visible: int = 0  # epoch ms
    dequeue_count: int = 0
    first_dequeue_time: int = 0
    receipt_handle: str = ""

    @property
    def body_md5(self) -> str:
        return hashlib.md5(self.body.encode("utf-8")).hexdigest().upper()


@dataclass
class Queue:
    name: str
    visibility_timeout: int = DEFAULT_VISIBILITY
    delay_seconds: int = 0
    messages: List[Message] = field(default_factory=list)


class MnsStore:
    def __init__(self) -> None:
        self.lock = threading.Condition()
        self._queues: Dict[str, Queue] = {}
        self._topics: Dict[str, Dict[str, str]] = {}  # topic -> subscription name -> endpoint
        self.waiting = 0  # receives blocked in long polling right now (a test waits for it instead of sleeping)

    # ---- queues ------------------------------------------------------------------------------------------------

    def create_queue(self, name: str, visibility_timeout: int = DEFAULT_VISIBILITY, delay_seconds: int = 0) -> bool:
        """True when created, False when it already existed."""
        with self.lock:
            if name in self._queues:
                return False
            self._queues[name] = Queue(name, visibility_timeout, delay_seconds)
            return True

    def delete_queue(self, name: str) -> None:
        with self.lock:
            self._queues.pop(name, None)

    def messages(self, queue: str) -> List[Message]:
        """Every message the queue holds (visible or not), in arrival order."""
        with self.lock:
            return [replace(m) for m in self._queue(queue).messages]

    def send(self, queue: str, bodies: List[str], delay: Optional[int] = None, priority: int = DEFAULT_PRIORITY):
        """Store the messages (all or none) and wake receivers."""
        with self.lock:
            q = self._queue(queue)
            now = now_ms()
            visible_at = now + 1000 * (q.delay_seconds if delay is None else delay)
            sent = [
                Message(new_oss_request_id()[:16] + random_text(16).upper(), b, now, priority, visible_at)
                for b in bodies
            ]
            q.messages.extend(sent)
            self.lock.notify_all()
            return [replace(m) for m in sent]

    def receive(self, queue: str, count: int) -> List[Message]:
        """Up to `count` visible messages, each made invisible for the queue's visibility timeout."""
        with self.lock:
            q = self._queue(queue)
            now = now_ms()
            taken = []
            for m in q.messages:
                if len(taken) == count:
                    break
                if m.next_visible <= now:
                    m.dequeue_count += 1
                    m.first_dequeue_time = m.first_dequeue_time or now
                    m.next_visible = now + 1000 * q.visibility_timeout
                    m.receipt_handle = "1-" + random_text(40)  # a new handle on every receive, as the service does
                    taken.append(replace(m))
            return taken

    def wait_for_message(self, queue: str, timeout: float) -> None:
        """Block until the queue may have a visible message or `timeout` seconds pass (long polling)."""
        with self.lock:
            self.waiting += 1
            try:
                self.lock.wait(timeout)
            finally:
                self.waiting -= 1

    def delete(self, queue: str, receipt_handle: str) -> None:
        with self.lock:
            q = self._queue(queue)
            m = self._by_handle(q, receipt_handle)
            q.messages.remove(m)

    def change_visibility(self, queue: str, receipt_handle: str, seconds: int) -> Message:
        with self.lock:
            m = self._by_handle(self._queue(queue), receipt_handle)
            m.next_visible = now_ms() + 1000 * seconds
            m.receipt_handle = "1-" + random_text(40)
            return replace(m)

    def _queue(self, name: str) -> Queue:
        q = self._queues.get(name)
        if q is None:
            raise no_queue(name)
        return q

    @staticmethod
    def _by_handle(q: Queue, receipt_handle: str) -> Message:
        now = now_ms()
        for m in q.messages:
            if m.receipt_handle == receipt_handle and m.next_visible > now:
                return m
        raise MnsError(400, "ReceiptHandleError", "The receipt handle you provide is not valid.")

    # ---- topics ------------------------------------------------------------------------------------------------

    def create_topic(self, name: str) -> bool:
        with self.lock:
            if name in self._topics:
                return False
            self._topics[name] = {}
            return True

    def subscribe(self, topic: str, subscription: str, endpoint: str) -> None:
        with self.lock:
            self._topic(topic)[subscription] = endpoint

    def unsubscribe(self, topic: str, subscription: str) -> None:
        with self.lock:
            self._topic(topic).pop(subscription, None)

    def publish(self, topic: str, body: str) -> Message:
        """The published message; a subscription whose endpoint is a queue (acs:mns:<region>:<account>:queues/<q>)
        gets the body in that queue, as a SIMPLIFIED notification carries it."""
        with self.lock:
            endpoints = list(self._topic(topic).values())
            for endpoint in endpoints:
                _, sep, queue = endpoint.rpartition(":queues/")
                if sep and queue in self._queues:
                    self.send(queue, [body])
            return Message(new_oss_request_id()[:16] + random_text(16).upper(), body, now_ms())

    def _topic(self, name: str) -> Dict[str, str]:
        subscriptions = self._topics.get(name)
        if subscriptions is None:
            raise MnsError(404, "TopicNotExist", "The topic name you provided is not exist: %s." % name)
        return subscriptions
