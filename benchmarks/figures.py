"""One measured figure: what it is, its target, what was measured, and the verdict."""

from dataclasses import dataclass, field
from typing import Any, Dict

MET, MISSED, INFO = "met", "missed", "info"


@dataclass
class Figure:
    key: str  # stable id, used in the JSON
    title: str
    target: str
    measured: str  # the human-readable result: median, spread, ratio
    verdict: str  # MET, MISSED or INFO
    data: Dict[str, Any] = field(default_factory=dict)  # the numbers behind ``measured``

    def as_dict(self) -> Dict[str, Any]:
        return {
            "key": self.key,
            "title": self.title,
            "target": self.target,
            "measured": self.measured,
            "verdict": self.verdict,
            "data": self.data,
        }


def verdict(ok: bool) -> str:
    return MET if ok else MISSED
