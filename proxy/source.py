"""Where a proxy client's key comes from: a managed secret (shared registry) or a given provider.

Also the checks that turn a migration mistake (the plain SDK's arguments given to a proxy) into an error that
says what to write instead; they never show an argument's value, which may be a secret.
"""

import os
import re
import sys
import weakref
from typing import TYPE_CHECKING, Any, Callable, Optional, Tuple

from credentials import CredentialsProvider, registry
from credentials.masking import install_sdk_log_redaction

if TYPE_CHECKING:
    import asyncio  # imported where it is used: a synchronous program never loads it (about 10 ms)

_REGION_ID = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")  # cn-hangzhou, ap-southeast-1, cn-shanghai-finance-1


def check_secret_name(value: Any, client: str) -> None:
    """A TypeError saying what to write when something else than a secret's name comes first."""
    if value is None or isinstance(value, str):
        return
    kind = type(value)
    modules = {cls.__module__ for cls in kind.__mro__}
    if "oss2.auth" in modules:
        raise TypeError(
            f"{client} takes the name of a managed secret where oss2 takes an auth object: write "
            f"{client}('my-ram-secret', endpoint, ...), or {client}(credentials_provider="
            "StaticCredentialsProvider(access_key_id, access_key_secret), endpoint=..., ...) for a key "
            "you manage yourself"
        )
    if callable(getattr(value, "get_credentials", None)):
        raise TypeError(
            f"{client}: a credentials provider goes in credentials_provider=, not in the first place: "
            f"write {client}(credentials_provider=provider, ...)"
        )
    if any(module.startswith("aliyunsdkcore.auth") for module in modules):
        raise TypeError(
            f"{client} takes its key from a managed secret, not an aliyunsdkcore credential: write "
            f"{client}('my-ram-secret', ...), or credentials_provider=StaticCredentialsProvider(...)"
        )
    raise TypeError(f"{client}: secret_name must be the name of a managed secret (a str), not {kind.__name__}")


def check_region_id(value: Any, client: str) -> None:
    """A region id, or None (as AcsClient takes). The older plugin's second parameter was ak_expire_handler."""
    if value is None:
        return
    if callable(getattr(value, "judge_ak_expire", None)):
        raise TypeError(
            f"{client}'s second parameter is region_id; an expire handler goes in ak_expire_handler= "
            f"(the older plugin's second parameter): write {client}('my-ram-secret', "
            "ak_expire_handler=handler)"
        )
    if not isinstance(value, str):
        raise TypeError(
            f"{client}: region_id must be a region id such as 'cn-hangzhou' (a str), not {type(value).__name__}"
        )
    if not _REGION_ID.match(value):  # the value is not shown: with AcsClient's (ak, secret) it is a secret
        raise ValueError(
            f"{client}: region_id is not a region id (such as 'cn-hangzhou': lower-case letters, digits "
            f"and hyphens). AcsClient's (ak, secret, region_id) form does not apply: the key comes from "
            f"a managed secret, {client}('my-ram-secret', region_id='cn-hangzhou'), or from "
            f"credentials_provider=StaticCredentialsProvider(access_key_id, access_key_secret)"
        )


def refuse_key_arguments(kwargs: dict, names: Tuple[str, ...], client: str) -> None:
    """Takes the plain SDK's key keywords (``names``) out of ``kwargs``; one that is given is a ValueError saying where
    the key comes from instead (its value, often the pasted secret, is not shown). None and "" (the SDKs' own
    defaults, e.g. Account's ``security_token=""``) are dropped."""
    for name in names:
        if kwargs.pop(name, None) not in (None, ""):
            raise ValueError(f"{client} takes its key from secret_name= or credentials_provider=, not {name}=")


class KeySource:
    """A client's hold on its provider; ``release()`` (idempotent) lets the registry close a shared one.

    ``defer_in_event_loop=True`` (the asyncio clients): constructed inside a running event loop, a shared secret's
    first fetch is not made here but started in a worker thread (the loop's default executor), and awaited by
    ``first_fetch_async()`` at first use; the loop never waits for KMS. Elsewhere, and for every synchronous client,
    the constructor makes the first fetch (bounded by the start-up timeout) as it always did.
    """

    def __init__(
        self,
        secret_name: Optional[str],
        credentials_provider: Optional[CredentialsProvider],
        client: str = "the client",
        *,
        defer_in_event_loop: bool = False,
    ) -> None:
        install_sdk_log_redaction()  # first construction: the SDKs' own log records never show a token
        check_secret_name(secret_name, client)
        if (secret_name is None) == (credentials_provider is None):
            raise ValueError(
                "give exactly one of secret_name= (a KMS managed RAM credential) or "
                "credentials_provider= (a credentials.CredentialsProvider)"
            )
        self._hold: Optional[registry.Hold] = None
        self._first_fetch: Optional["asyncio.Future[None]"] = None
        if credentials_provider is not None:
            if not callable(getattr(credentials_provider, "get_credentials", None)):
                raise ValueError("credentials_provider must have get_credentials() (a credentials.CredentialsProvider)")
            self.provider: CredentialsProvider = credentials_provider
        else:
            if not isinstance(secret_name, str) or not secret_name.strip():
                raise ValueError("secret_name must be a non-empty string")
            loop = _running_loop() if defer_in_event_loop else None
            self._hold = registry.hold(secret_name, wait=loop is None)
            self.provider = self._hold.provider
            if loop is not None:
                self._first_fetch = _in_worker_thread(loop, self._hold.wait)
        self._fetched = self._first_fetch is None  # False: first_fetch_async() awaits it
        self.secret_name = secret_name
        self._released = False

    async def first_fetch_async(self) -> None:
        """Awaits the shared secret's first fetch (in a worker thread) if it is not made yet; raises what the
        constructor would have raised (an unknown secret, KMS access denied). At once on a made fetch."""
        hold = self._hold
        if self._fetched or hold is None:
            return
        if not hold.fetched:
            import asyncio

            loop = asyncio.get_running_loop()
            future = self._first_fetch
            if future is None or future.cancelled() or future.get_loop() is not loop:
                future = self._first_fetch = _in_worker_thread(loop, hold.wait)
            await asyncio.shield(future)  # a cancelled caller leaves the fetch running for the next one
        if hold.fetched:
            hold.wait()  # returns, or raises the first fetch's error, at once
            self._fetched = True

    def release(self) -> None:
        if self._released:
            return
        self._released = True
        if self._hold is not None:
            self._hold.release()

    def describe(self) -> str:
        return f"secret {self.secret_name!r}" if self.secret_name else repr(self.provider)


def _running_loop() -> Optional["asyncio.AbstractEventLoop"]:
    loaded = sys.modules.get("asyncio")  # no event loop runs in a process that has not imported asyncio
    if loaded is None:
        return None
    try:
        return loaded.get_running_loop()
    except RuntimeError:
        return None


def _in_worker_thread(loop: "asyncio.AbstractEventLoop", wait: Callable[[], None]) -> "asyncio.Future[None]":
    future = loop.run_in_executor(None, wait)
    future.add_done_callback(_retrieve)  # its error is raised where it is awaited, never "never retrieved"
    return future


def _retrieve(future: "asyncio.Future[None]") -> None:
    if not future.cancelled():
        future.exception()


_forkable: "weakref.WeakSet[Any]" = weakref.WeakSet()


def reset_http_after_fork(client: Any) -> None:
    """Register a client whose ``_after_fork_in_child()`` gives it fresh HTTP connections in a forked child."""
    _forkable.add(client)


def _after_fork_in_child() -> None:
    for client in list(_forkable):
        client._after_fork_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def key_pair(provider: CredentialsProvider) -> Tuple[str, str]:
    creds = provider.get_credentials()
    return creds.access_key_id, creds.access_key_secret
