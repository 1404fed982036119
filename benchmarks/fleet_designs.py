"""The retry designs the fleet simulation compares: the library as it is ("after") and the design of commit a370aaa
("before": issue 23's "today"), each as (provider factory, the KMS client's tenacity rule, whether calls wait through
a backoff)."""

from typing import Any, Callable, Tuple


def design(name: str) -> Tuple[Callable[[Any, Callable[[], float]], Any], Any, bool]:
    from credentials.kms.client import transient_retrying
    from credentials.managed import ManagedSecretProvider

    from .fleet_revocation import SECRET

    if name == "before":

        def build(kms: Any, clock: Callable[[], float]) -> Any:
            return ManagedSecretProvider(SECRET, kms, clock=clock, background=False)

        return build, transient_retrying(4, None, "KMS"), False
    raise ValueError(f"unknown design {name!r}")


def default_refresh_wait() -> float:
    return 0.0
