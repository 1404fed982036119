"""Message Service (aliyun-mns-sdk, the ``.[mns]`` extra): ProxyMnsAccount (account), the client every request of
its queues, topics and subscriptions goes through (client), and the key as the SDK reads it (key)."""

from .account import ProxyMnsAccount

__all__ = ["ProxyMnsAccount"]
