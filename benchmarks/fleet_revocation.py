"""A fleet under KMS's quota: an emergency revocation seen by every process at once, on a simulated clock.

Shared KMS admits ``Q`` = 450 GetSecretValue per second per account and region; beyond that it answers HTTP 429
``Rejected.Throttling`` (/work/shared/FIELD_NOTES.md "KMS quotas"). Here KMS is a token bucket (rate Q, capacity Q:
one second of burst) and every process is a real ``ManagedSecretProvider`` on an injected clock. At t = 0 the key
every process holds is revoked. Each process makes calls at ``call_rate`` per second (its phase drawn at random);
its first call after t = 0 meets the revoked key and asks the provider for a new one (``refresh(stale=...)``, as the
proxies' Reissuer does).

What runs is the library's own code, event by event in simulated time (a heap of next-event times, no threads):

* a fetch round is the KMS client's tenacity rule (``credentials.kms.retrying.transient_retrying``) stepped through
  tenacity's own ``Retrying.iter()``: each attempt asks the token bucket at its simulated time, each ``DoSleep``
  becomes the next event. The round's outcome (the secret, or the KmsRequestError that
  ``credentials.kms.client._parse_response`` makes of a 429 answer) is handed to the provider, whose fake KMS client
  returns or raises it at the simulated time the round ended;
* the provider decides when the next round may start (``_slot.refresh_at``: its backoff after a failure), and the
  next round starts through its background refresh path (``get_credentials()``, ``background=False``);
* who starts that round models the callers: a call that meets the revoked key waits for the refresh at most
  ``refresh_wait`` seconds, so when a call is waiting at ``refresh_at`` the round starts then; otherwise at the
  next call. The waits and failures of the calls are then counted from the rounds (``_calls``).

``design="before"`` is the design of commit a370aaa (issue 23's "today"): a throttled answer retried 4 times within
about 1.4 s (random exponential 0.2 s x 2^n), then the provider's 1, 2, 4 ... 30 s backoff; a call that finds the
provider backing off fails at once; a call that arrives during a round waits for it. ``design="after"``: the library
as it is now.
"""

import heapq
import json
import math
import random
from array import array
from bisect import bisect_right
from typing import Any, Dict, List, Optional, Sequence, Tuple

QUOTA_SHARED = 450.0  # GetSecretValue per second per account and region (documented)
# A dedicated KMS instance admits what its computing performance allows; 1,000 QPS is one of the documented instance
# specifications (200, 1,000, 2,000, 4,000). ASSUMPTION: such an instance throttles beyond it as shared KMS does.
QUOTA_DEDICATED = 1000.0
EPOCH = 1_800_000_000.0  # simulated time 0 as epoch seconds (the providers' clock)
SECRET = "fleet-secret"
_HOST = "kms.fleet.example"


class TokenBucket:
    """``rate`` tokens a second, at most ``capacity`` kept; asked in time order."""

    def __init__(self, rate: float, capacity: Optional[float] = None) -> None:
        self.rate = rate
        self.capacity = capacity if capacity is not None else rate
        self.tokens = self.capacity
        self.at = -math.inf

    def admit(self, now: float) -> bool:
        if now > self.at:
            self.tokens = min(self.capacity, self.tokens + (now - self.at) * self.rate)
            self.at = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


def _document(version: str) -> Dict[str, str]:
    return {
        "SecretName": SECRET,
        "VersionId": version,
        "SecretData": json.dumps({"AccessKeyId": f"LTAI{version}fleet", "AccessKeySecret": "s"}),
    }


OLD, NEW = _document("v1"), _document("v2")


def _throttled_answer() -> BaseException:
    """What the library makes of KMS's 429 answer (the body KMS documents)."""
    from credentials.config import KmsEndpoint
    from credentials.kms import client

    body = json.dumps({"Code": "Rejected.Throttling", "Message": "QPS Limit Exceeded", "HttpStatus": 429})
    try:
        client._parse_response(429, body.encode(), SECRET, KmsEndpoint("cn-fleet", _HOST), {})
    except Exception as exc:  # noqa: BLE001 - the KmsRequestError is what we want
        return exc
    raise AssertionError("a 429 answer did not raise")


class _PrimedKms:
    """The provider's KMS client: hands over the outcome of the round the simulation has just run."""

    def __init__(self) -> None:
        self.outcome: Any = OLD

    def get_secret_value(self, secret_name: str) -> Dict[str, str]:
        outcome, self.outcome = self.outcome, None
        if outcome is None:
            raise AssertionError("the provider fetched outside a simulated round")
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome


class _Process:
    __slots__ = ("provider", "kms", "phase", "rounds", "attempts", "healed", "state", "round_start")

    def __init__(self, provider: Any, kms: _PrimedKms, phase: float) -> None:
        self.provider = provider
        self.kms = kms
        self.phase = phase
        self.rounds: List[Tuple[float, float, bool]] = []  # (start, end, success)
        self.attempts: List[float] = []
        self.healed = math.inf
        self.state: Any = None  # the tenacity RetryCallState of the round under way
        self.round_start = 0.0


def _next_call(t: float, phase: float, rate: float) -> float:
    """The first call at or after ``t`` of a process calling at ``phase + k / rate``."""
    k = max(0, math.ceil((t - phase) * rate - 1e-9))
    return phase + k / rate


def simulate(
    processes: int,
    quota: float = QUOTA_SHARED,
    *,
    design: str = "after",
    call_rate: float = 1.0,
    refresh_wait: Optional[float] = None,
    seed: int = 0,
) -> Dict[str, Any]:
    """One revocation; returns the figures (see ``_analyse``) and the curves for the figure."""
    import logging

    import tenacity

    from . import fleet_designs

    build, rule, waits = fleet_designs.design(design)
    if refresh_wait is None:
        refresh_wait = fleet_designs.default_refresh_wait() if waits else 0.0
    sim = [0.0]
    clock = lambda: EPOCH + sim[0]  # noqa: E731
    quiet = logging.getLogger("managed_credentials")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)  # one warning per process per outage is the library's; not 50,000 on a terminal
    state = random.getstate()
    random.seed(seed)
    try:
        sim[0] = -60.0
        fleet = []
        for _ in range(processes):
            kms = _PrimedKms()
            fleet.append(_Process(build(kms, clock), kms, random.uniform(0.0, 1.0 / call_rate)))
        old_key = fleet[0].provider.get_credentials() if fleet else None
        bucket = TokenBucket(quota)
        rule.begin()
        heap = [(p.phase, i) for i, p in enumerate(fleet)]
        heapq.heapify(heap)
        throttled = 0
        while heap:
            t, i = heapq.heappop(heap)
            sim[0] = t
            p = fleet[i]
            if p.state is None:
                p.state = tenacity.RetryCallState(rule, None, (), {})
                p.round_start = t
                rule.iter(p.state)  # DoAttempt
            p.attempts.append(t)
            if bucket.admit(t):
                p.state.set_result(NEW)
            else:
                throttled += 1
                error = _throttled_answer()
                p.state.set_exception((type(error), error, None))
            try:
                action = rule.iter(p.state)
            except Exception as exc:  # noqa: BLE001 - the round's final error, raised by tenacity (reraise=True)
                outcome: Any = exc
            else:
                if isinstance(action, tenacity.DoSleep):
                    p.state.prepare_for_next_attempt()
                    heapq.heappush(heap, (t + float(action), i))
                    continue
                outcome = action
            p.state = None
            p.kms.outcome = outcome
            if not p.rounds:
                p.provider.refresh(stale=old_key)  # the call that met the revoked key
            else:
                p.provider.get_credentials()  # the background refresh, started at the provider's own time
            if p.kms.outcome is not None:
                raise AssertionError("the provider did not fetch when its next round was due")
            ok = outcome is NEW
            p.rounds.append((p.round_start, t, ok))
            if ok:
                p.healed = t
                continue
            due = p.provider._slot.refresh_at - EPOCH
            heapq.heappush(heap, (_round_start(due, p.phase, call_rate, refresh_wait, waits), i))
        after_heal = sum(
            1 for p in fleet if p.provider._slot.refresh_at - EPOCH < p.healed + 3600.0
        )  # a healed process fetches again only at its periodic refresh (hours), never at once
    finally:
        random.setstate(state)
        quiet.setLevel(level)
    return _analyse(fleet, processes, quota, throttled, call_rate, refresh_wait, waits, after_heal)


def _round_start(due: float, phase: float, rate: float, refresh_wait: float, waits: bool) -> float:
    """When the next round starts: at ``due`` when a call is waiting then (a call made at most ``refresh_wait``
    before it, in a design whose calls wait through a backoff), else at the next call."""
    if waits and _next_call(due - refresh_wait, phase, rate) <= due:
        return due
    return _next_call(due, phase, rate)


def _calls(p: _Process, horizon: float, rate: float, bound: float, waits: bool, out: "array[float]") -> int:
    """Append the wait of every call of ``p`` from t = 0 to its heal (the call that met the revoked key included;
    none after ``horizon``) to ``out``; return how many failed.

    A call that meets the revoked key: in a design whose calls wait (after), it waits for the refresh at most
    ``bound``; it succeeds if the process heals by then, else it gives up after the last attempt that started within
    its bound (at once when no attempt is due within it). In the design before: a call during a round waits for that
    round and shares its outcome; a call outside any round fails at once (the provider is backing off)."""
    failed = 0
    end = min(p.healed, horizon)
    c = p.phase
    attempts = p.attempts
    rounds = p.rounds
    r = 0
    while c <= end + 1e-9:
        if waits:
            if p.healed <= c + bound:
                out.append(p.healed - c)
            else:
                failed += 1
                last = bisect_right(attempts, c + bound) - 1
                out.append(attempts[last] - c if last >= 0 and attempts[last] >= c else 0.0)
        else:
            while r < len(rounds) and rounds[r][1] < c:
                r += 1
            if r < len(rounds) and rounds[r][0] <= c:
                out.append(rounds[r][1] - c)
                failed += 0 if rounds[r][2] else 1
            else:
                out.append(0.0)
                failed += 1
        c += 1.0 / rate
    return failed


def _quantile(data: Sequence[float], q: float) -> float:
    return data[min(len(data) - 1, max(0, math.ceil(q * len(data)) - 1))] if data else 0.0


def _analyse(
    fleet: List[_Process],
    n: int,
    quota: float,
    throttled: int,
    rate: float,
    bound: float,
    waits: bool,
    after_heal: int,
) -> Dict[str, Any]:
    limit = n / quota
    healed = sorted(p.healed for p in fleet)
    requests = sum(len(p.attempts) for p in fleet)
    horizon = healed[-1]
    waited: "array[float]" = array("d")
    failed = sum(_calls(p, horizon, rate, bound, waits, waited) for p in fleet)
    waited_sorted = sorted(waited)
    width = max(limit / 50.0, 0.25)  # request-rate bins: 50 over the limit, at least a quarter of a second
    bins: Dict[int, int] = {}
    for p in fleet:
        for t in p.attempts:
            bins[int(t // width)] = bins.get(int(t // width), 0) + 1
    step = max(1, n // 400)
    return {
        "processes": n,
        "quota_per_s": quota,
        "limit_s": limit,
        "call_rate_per_s": rate,
        "refresh_wait_s": bound if waits else None,
        "heal_50_ratio": _quantile(healed, 0.50) / limit,
        "heal_99_ratio": _quantile(healed, 0.99) / limit,
        "heal_100_ratio": horizon / limit,
        "heal_100_s": horizon,
        "requests_per_process": requests / n,
        "throttled": throttled,
        "calls": len(waited),
        "calls_failed": failed,
        "wait_s": {
            "median": _quantile(waited_sorted, 0.5),
            "p99": _quantile(waited_sorted, 0.99),
            "max": waited_sorted[-1] if waited_sorted else 0.0,
        },
        "fetches_soon_after_healing": after_heal,
        "curve_healed": [[healed[i] / limit, (i + 1) / n] for i in range(0, n, step)] + [[horizon / limit, 1.0]],
        "curve_requests": [[(k * width) / limit, count / width] for k, count in sorted(bins.items())],
    }
