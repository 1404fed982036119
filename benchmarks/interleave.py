"""ABAB timing: the plain client and the proxy take turns call by call, the order flipped every pair.

Taking turns cancels drift (another process's test suite starting, CPU frequency,
the emulator's state); flipping the order cancels whatever the second call of a
pair gains from the first (warm caches).

A round's ratio is the median, over its pairs, of (proxy call / plain call): the two
calls of a pair are neighbours in time and share the machine's state, so this paired
ratio varies two to three times less from round to round than the ratio of the two
sides' median calls (also reported) while estimating the same thing. A figure is the
median over rounds, with the rounds' range as its spread.
"""

import time
from dataclasses import dataclass
from typing import Callable, Dict, List

from .stats import Summary, median, summarize

# prepare() makes the call's inputs (a new request object) outside the timed region; call(prepared) is timed.
Prepare = Callable[[], object]
Call = Callable[[object], object]


@dataclass
class PairedResult:
    """Per round: the median call of each side, the median paired ratio and difference, the ratio of medians."""

    plain_rounds: List[float]  # seconds, median call of each round
    proxy_rounds: List[float]
    pair_ratios: List[float]  # per round: median over pairs of (proxy call / plain call)
    pair_differences: List[float]  # seconds, per round: median over pairs of (proxy call - plain call)
    median_ratios: List[float]  # per round: (median proxy call) / (median plain call)

    @property
    def ratio(self) -> Summary:
        return summarize(self.pair_ratios)

    @property
    def median_ratio(self) -> Summary:
        return summarize(self.median_ratios)

    @property
    def plain(self) -> Summary:
        return summarize(self.plain_rounds)

    @property
    def proxy(self) -> Summary:
        return summarize(self.proxy_rounds)

    def as_dict(self, unit: float = 1e6) -> Dict[str, object]:
        return {
            "unit": "us" if unit == 1e6 else unit,
            "plain_round_medians": [v * unit for v in self.plain_rounds],
            "proxy_round_medians": [v * unit for v in self.proxy_rounds],
            "round_pair_ratios": self.pair_ratios,
            "round_pair_differences": [v * unit for v in self.pair_differences],
            "round_ratios_of_medians": self.median_ratios,
            "ratio": self.ratio.as_dict(),
            "ratio_of_medians": self.median_ratio.as_dict(),
            "plain": {k: v * unit if k != "n" else v for k, v in self.plain.as_dict().items()},
            "proxy": {k: v * unit if k != "n" else v for k, v in self.proxy.as_dict().items()},
        }


def interleaved(
    plain: Call,
    proxy: Call,
    prepare: Prepare,
    *,
    calls: int,
    rounds: int,
    clock: Callable[[], float] = time.perf_counter,
) -> PairedResult:
    plain_rounds, proxy_rounds, pair_ratios, differences, median_ratios = [], [], [], [], []
    for _ in range(rounds):
        a: List[float] = []
        b: List[float] = []
        for i in range(calls):
            order = ((plain, a), (proxy, b))
            for call, out in order if i % 2 == 0 else order[::-1]:
                arg = prepare()
                t0 = clock()
                call(arg)
                out.append(clock() - t0)
        ma, mb = median(a), median(b)
        plain_rounds.append(ma)
        proxy_rounds.append(mb)
        pair_ratios.append(median([y / x for x, y in zip(a, b)]))
        differences.append(median([y - x for x, y in zip(a, b)]))
        median_ratios.append(mb / ma)
    return PairedResult(plain_rounds, proxy_rounds, pair_ratios, differences, median_ratios)


def fmt_ratio(result: PairedResult, unit_name: str = "us", scale: float = 1e6) -> str:
    r, m = result.ratio, result.median_ratio
    return (
        f"ratio {r.median:.4f} (rounds {r.low:.4f}..{r.high:.4f}, n={r.n}); per call "
        f"{result.proxy.median * scale:.0f} vs {result.plain.median * scale:.0f} {unit_name}; ratio of "
        f"medians {m.median:.4f} ({m.low:.4f}..{m.high:.4f})"
    )
