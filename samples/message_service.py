"""An aliyun-mns-sdk program made managed: ProxyMnsAccount(host, secret_name) instead of Account(host, ak, secret).

    python samples/message_service.py

Before:  account = Account("http://1234.mns.cn-hangzhou.aliyuncs.com", "LTAI...", "the-secret-pasted-in-config")
After:   account = ProxyMnsAccount("http://1234.mns.cn-hangzhou.aliyuncs.com", "demo-ram-secret")
Against real KMS (a properties file present), set MNS_ENDPOINT to your account's endpoint as well.
"""

import os
import sys

from _environment import environment
from mns.mns_exception import MNSServerException
from mns.queue import Message, QueueMeta

from proxy import ProxyMnsAccount


def receive_all(queue) -> list:
    """The application's own consumer: receive, handle, delete, until the queue is empty."""
    bodies = []
    while True:
        try:
            message = queue.receive_message(wait_seconds=1)
        except MNSServerException as exc:
            if exc.type == "MessageNotExist":
                return bodies
            raise
        bodies.append(message.message_body.decode())
        queue.delete_message(message.receipt_handle)


def main() -> None:
    with environment() as env:
        endpoint = env.cloud.mns_endpoint if env.cloud is not None else os.environ.get("MNS_ENDPOINT")
        if not endpoint:
            sys.exit("set MNS_ENDPOINT (http://<account id>.mns.<region>.aliyuncs.com) to run against real KMS")
        # One account per thread, as with the plain SDK: accounts on one secret share its one provider.
        with ProxyMnsAccount(endpoint, env.secret_name) as account:  # the one changed line
            queue = account.get_queue("demo-orders")
            queue.create(QueueMeta())
            queue.send_message(Message("order 1"))
            if env.cloud is not None:
                env.cloud.rotate_secret(env.secret_name, mode="revoke")
                queue.send_message(Message("order 2, sent across an emergency rotation"))
            received = receive_all(queue)
            print("received:", received)
            if env.cloud is not None:
                assert sorted(received) == ["order 1", "order 2, sent across an emergency rotation"], received
                print("after an emergency rotation: every message delivered once, no error")
    print("message_service: OK")


if __name__ == "__main__":
    main()
