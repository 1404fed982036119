"""The retry designs the fleet simulation compares, each as (provider factory, the KMS client's tenacity rule,
whether a call waits through a throttling window).

* "after": the library as it is: ``ManagedSecretProvider`` and ``transient_retrying`` unchanged. The provider is
  built with ``refresh_wait=0`` because the simulation models the waiting callers itself (fleet_revocation.py);
  its fetch schedule is the library's.
* "before": the design of commit a370aaa (issue 23's "today"), rebuilt from the library's parts: the KMS client
  retried every transient answer, throttling included, 4 times (tenacity's random exponential wait, 0.2 s x 2^n,
  at most 3 s), and the provider backed off after a throttled round as after any failure (1, 2, 4 ... 30 s, drawn
  in the window's upper half); a call never waited for a later attempt. Its figures were first measured on that
  commit itself and this rebuild gives the same numbers (same seeds).
"""

from typing import Any, Callable, Optional, Tuple


def design(name: str) -> Tuple[Callable[[Any, Callable[[], float]], Any], Any, bool]:
    import tenacity

    from credentials.kms.errors import is_transient_kms_error
    from credentials.kms.retrying import transient_retrying
    from credentials.managed import ManagedSecretProvider

    from .fleet_revocation import SECRET

    if name == "after":

        def build(kms: Any, clock: Callable[[], float]) -> Any:
            return ManagedSecretProvider(SECRET, kms, clock=clock, background=False, refresh_wait=0)

        return build, transient_retrying(4, None, "KMS").retrying(), True  # its tenacity rule, stepped by hand
    if name == "before":

        class Before(ManagedSecretProvider):
            def _throttle_backoff(self, exc: Any) -> Optional[float]:
                return None  # throttling backed off like any failure

        def build_before(kms: Any, clock: Callable[[], float]) -> Any:
            return Before(SECRET, kms, clock=clock, background=False, refresh_wait=0)

        rule = tenacity.Retrying(
            retry=tenacity.retry_if_exception(is_transient_kms_error),
            stop=tenacity.stop_after_attempt(4),
            wait=tenacity.wait_random_exponential(multiplier=0.2, max=3.0),
            before_sleep=lambda state: None,
            reraise=True,
        )
        return build_before, rule, False
    raise ValueError(f"unknown design {name!r}")


def default_refresh_wait() -> float:
    from credentials.throttling import DEFAULT_REFRESH_WAIT

    return DEFAULT_REFRESH_WAIT
