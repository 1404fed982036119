"""The fleet figure (docs/img/fleet_revocation.png): for each design, the fraction of the fleet holding the new key
over time and the KMS requests per second against the quota, one curve per fleet size, time in units of the limit
N / Q. matplotlib is a benchmark-only dependency (``pip install -e '.[bench]'``); without it no figure is drawn."""

import os
from typing import Any, Dict, List, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
PATH = os.path.join(os.path.dirname(HERE), "docs", "img", "fleet_revocation.png")  # shown by docs/fleet.md, RESULTS.md


def draw(runs: Dict[str, List[Dict[str, Any]]], path: str = PATH) -> Optional[str]:
    """``runs``: design label -> the simulate() results of one KMS (one per fleet size). The path written, or None
    when matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    labels = list(runs)
    fig, axes = plt.subplots(len(labels), 2, figsize=(11, 3.6 * len(labels)), squeeze=False)
    for row, label in enumerate(labels):
        healed_ax, rate_ax = axes[row]
        for result in runs[label]:
            name = f"N = {result['processes']:,} (N/Q = {result['limit_s']:.0f} s)"
            xs, ys = zip(*result["curve_healed"])
            healed_ax.step(xs, ys, where="post", label=name)
            xs, ys = zip(*result["curve_requests"])
            rate_ax.step(xs, [y / result["quota_per_s"] for y in ys], where="post", label=name)
        quota = runs[label][0]["quota_per_s"]
        for ax in (healed_ax, rate_ax):
            ax.axvline(1.0, color="grey", linestyle=":", linewidth=1)
            ax.axvline(1.3, color="grey", linestyle="--", linewidth=1)
            ax.set_xlim(0, 2.0)
            ax.set_xlabel("time since the revocation / (N / Q)   (dotted: the limit; dashed: 1.3 x)")
        healed_ax.set_ylabel("fraction of processes\nholding the new key")
        healed_ax.set_title(f"{label}: processes healed")
        healed_ax.legend(loc="lower right", fontsize=8)
        rate_ax.axhline(1.0, color="red", linewidth=1)
        rate_ax.set_yscale("log")
        rate_ax.set_ylabel(f"KMS requests per second / Q\n(red: the quota, Q = {quota:.0f}/s)")
        rate_ax.set_title(f"{label}: KMS requests")
        rate_ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
