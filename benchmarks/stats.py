"""Medians and spreads: every figure is a median over rounds, reported with its spread."""

import statistics
from dataclasses import asdict, dataclass
from typing import Dict, Sequence


@dataclass(frozen=True)
class Summary:
    """The median of a sample, its quartiles and extremes (the spread a noisy machine shows)."""

    median: float
    q1: float
    q3: float
    low: float
    high: float
    n: int

    def as_dict(self) -> Dict[str, float]:
        return asdict(self)

    def spread(self, fmt: str = "{:.3f}", scale: float = 1.0) -> str:
        """``IQR a..b, range c..d (n)``: how far the rounds were from each other."""
        f = lambda v: fmt.format(v * scale)  # noqa: E731
        return f"IQR {f(self.q1)}..{f(self.q3)}, range {f(self.low)}..{f(self.high)}, n={self.n}"


def summarize(values: Sequence[float]) -> Summary:
    data = sorted(values)
    if not data:
        raise ValueError("no values to summarize")
    if len(data) == 1:
        q1 = q3 = data[0]
    else:
        q1, _, q3 = statistics.quantiles(data, n=4, method="inclusive")
    return Summary(statistics.median(data), q1, q3, data[0], data[-1], len(data))


def median(values: Sequence[float]) -> float:
    return statistics.median(values)
