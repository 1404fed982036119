"""Conformance matrix for ProxyMnsAccount: every Message Service operation the emulator serves, called through the
aliyun-mns-sdk object an application calls it on (Queue, Topic, Subscription), right after a revoking rotation:
it succeeds, costs exactly one GetSecretValue, and the emulator sees one request refused with the old key and one
answered with the new.

CALLS is the matrix; the "Which calls heal" table of docs/sdks/message-service.md is checked against it
(tests/test_docs.py::test_which_calls_heal_mns_table_matches_the_matrix).
"""

import ast
import inspect
import itertools
import textwrap
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, Tuple

import pytest
from mns.account import Account
from mns.mns_client import MNSClient
from mns.mns_common import TopicHelper
from mns.queue import Message, Queue, QueueMeta
from mns.subscription import Subscription, SubscriptionMeta
from mns.topic import Topic, TopicMessage, TopicMeta

from credentials import ConfigLoader, registry
from proxy import ProxyMnsAccount
from proxy.mns.client import ManagedMnsClient, sending_methods
from tests.cloud import CloudEmulator

_names = itertools.count()
QUEUE, TOPIC, SUBSCRIPTION = "orders", "events", "to-orders"


@pytest.fixture(scope="module")
def shared_cloud() -> Iterator[CloudEmulator]:
    with CloudEmulator() as cloud:
        yield cloud


@pytest.fixture
def cloud(shared_cloud: CloudEmulator, tmp_path: Path) -> Iterator[CloudEmulator]:
    """The shared emulator, its call log emptied, the registry empty and pointed at it."""
    ConfigLoader.set_config_name(shared_cloud.write_properties(str(tmp_path / "managed.properties")))
    registry.reset()
    shared_cloud.reset_counts()
    try:
        yield shared_cloud
    finally:
        registry.reset()
        ConfigLoader.set_config_name(None)


class Scene:
    """A queue with two messages (one of them received, for its receipt handle), a topic, and a queue endpoint to
    subscribe it to: each made by the proxy before the rotation, so each call after it has something to act on."""

    def __init__(self, cloud: CloudEmulator, account: ProxyMnsAccount, queue: str) -> None:
        self.queue = account.get_queue(queue)
        self.queue.create(QueueMeta())
        self.queue.batch_send_message([Message("one"), Message("two")])
        self.received = self.queue.receive_message()
        self.topic = account.get_topic(queue + "-topic")
        self.topic.create(TopicMeta())
        self.subscription = self.topic.get_subscription(SUBSCRIPTION)
        self.endpoint = TopicHelper.generate_queue_endpoint(cloud.region_id, "1234567890", queue)


def _subscribed(scene: Scene) -> Scene:
    scene.subscription.subscribe(SubscriptionMeta(scene.endpoint))
    return scene


def _batch_handles(scene: Scene) -> Any:
    return scene.queue.batch_delete_message([scene.received.receipt_handle])


# the README row -> (what to prepare beyond the scene, the call, the action the emulator logs)
CALLS: Dict[str, Tuple[Callable[[Scene], Scene], Callable[[Scene], Any], str]] = {
    "Queue.create": (lambda s: s, lambda s: s.queue.create(QueueMeta()), "CreateQueue"),
    "Queue.delete": (lambda s: s, lambda s: s.queue.delete(), "DeleteQueue"),
    "Queue.send_message": (lambda s: s, lambda s: s.queue.send_message(Message("three")), "SendMessage"),
    "Queue.batch_send_message": (
        lambda s: s,
        lambda s: s.queue.batch_send_message([Message("three"), Message("four")]),
        "SendMessage",  # one route: the body's root element tells the batch apart
    ),
    "Queue.receive_message": (lambda s: s, lambda s: s.queue.receive_message(), "ReceiveMessage"),
    "Queue.batch_receive_message": (lambda s: s, lambda s: s.queue.batch_receive_message(10), "BatchReceiveMessage"),
    "Queue.delete_message": (
        lambda s: s,
        lambda s: s.queue.delete_message(s.received.receipt_handle),
        "DeleteMessage",
    ),
    "Queue.batch_delete_message": (lambda s: s, _batch_handles, "BatchDeleteMessage"),
    "Queue.change_message_visibility": (
        lambda s: s,
        lambda s: s.queue.change_message_visibility(s.received.receipt_handle, 60),
        "ChangeMessageVisibility",
    ),
    "Topic.create": (lambda s: s, lambda s: s.topic.create(TopicMeta()), "CreateTopic"),
    "Topic.publish_message": (
        _subscribed,
        lambda s: s.topic.publish_message(TopicMessage("shipped")),
        "PublishMessage",
    ),
    "Subscription.subscribe": (
        lambda s: s,
        lambda s: s.subscription.subscribe(SubscriptionMeta(s.endpoint)),
        "Subscribe",
    ),
    "Subscription.unsubscribe": (_subscribed, lambda s: s.subscription.unsubscribe(), "Unsubscribe"),
}


@pytest.mark.parametrize("call", list(CALLS))
def test_call_right_after_a_revoking_rotation_heals_with_one_fetch(cloud: CloudEmulator, call: str) -> None:
    prepare, send, action = CALLS[call]
    secret = "mns-key-%d" % next(_names)
    cloud.create_secret(secret)
    with ProxyMnsAccount(cloud.mns_endpoint, secret) as account:
        scene = prepare(Scene(cloud, account, "q%d" % next(_names)))
        old_id, _ = cloud.current_key(secret)
        new_id, _ = cloud.rotate_secret(secret, mode="revoke")
        cloud.reset_counts()

        send(scene)

        assert cloud.count("GetSecretValue") == 1
        assert [(c.action, c.access_key_id, c.code) for c in cloud.calls if c.service == "mns"] == [
            (action, old_id, "InvalidAccessKeyId"),
            (action, new_id, "OK"),
        ]


def test_every_sdk_object_method_that_reaches_the_service_goes_through_a_healing_method() -> None:
    """Account, Queue, Topic and Subscription call the service only through their MNSClient; each MNSClient method
    they call that signs a request (calls build_header) is one ManagedMnsClient re-issues. A method a newer SDK adds
    is found the same way (its code calls build_header): nothing to list by hand."""
    client_methods = set(vars(MNSClient))
    used = set()
    for cls in (Account, Queue, Topic, Subscription):
        for name, function in vars(cls).items():
            if callable(function) and not name.startswith("_"):
                used |= client_methods & _attributes_called(function)
    signing = set(sending_methods())
    assert {"send_message", "receive_message", "publish_message", "create_queue", "subscribe"} <= signing
    assert used & signing == used - {"set_log_level", "close_log", "set_connection_timeout", "set_keep_alive"}
    for name in signing:
        assert getattr(ManagedMnsClient, name) is not getattr(MNSClient, name), name
        assert getattr(ManagedMnsClient, name).__wrapped__ is getattr(MNSClient, name)


def _attributes_called(function: Callable[..., Any]) -> set:
    tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    return {
        node.func.attr for node in ast.walk(tree) if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
    }
