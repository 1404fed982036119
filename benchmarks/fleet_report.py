"""The fleet-under-quota rows of RESULTS.md (issue 23): an emergency revocation on shared KMS (Q = 450/s) and on a
dedicated instance (Q = 1,000/s, an assumption: fleet_revocation.QUOTA_DEDICATED), the design of a370aaa ("before")
and the library's ("after"), and the scheduled rotation under the quota; plus the figure (fleet_figure.py)."""

from typing import Any, Dict, List

from .figures import INFO, Figure, verdict
from .settings import Settings

TARGET_HEAL_RATIO = 1.3  # 100 % of the fleet holds the new key within 1.3 x N / Q
TARGET_REQUESTS = 2.0  # KMS requests per process, on average
KMS = {"shared": 450.0, "dedicated": 1000.0}


def _measured(r: Dict[str, Any]) -> str:
    wait = r["wait_s"]
    bound = f"; refresh_wait {r['refresh_wait_s']:g} s" if r["refresh_wait_s"] is not None else ""
    return (
        f"50 % / 99 % / 100 % healed at {r['heal_50_ratio']:.2f} / {r['heal_99_ratio']:.2f} / "
        f"{r['heal_100_ratio']:.2f} x N/Q (N/Q = {r['limit_s']:.1f} s; 100 % at {r['heal_100_s']:.1f} s); "
        f"{r['requests_per_process']:.2f} KMS requests per process ({r['throttled']:,} throttled answers); "
        f"calls failed {r['calls_failed']:,} of {r['calls']:,} made before their process healed (a call a second "
        f"per process; waited median {wait['median']:.2f} s, p99 {wait['p99']:.2f} s, max {wait['max']:.2f} s"
        f"{bound}); KMS requests after healing: {r['fetches_soon_after_healing']}"
    )


def measure(settings: Settings) -> List[Figure]:
    from . import fleet, fleet_figure
    from .fleet_revocation import simulate

    figures: List[Figure] = []
    drawn: Dict[str, List[Dict[str, Any]]] = {}
    for kms, quota in KMS.items():
        for design in ("before", "after"):
            runs = [simulate(n, quota, design=design, seed=0) for n in settings.fleet_revocation_sizes]
            drawn[f"{design}, {kms} KMS (Q = {quota:.0f}/s)"] = runs
            for r in runs:
                ok = r["heal_100_ratio"] <= TARGET_HEAL_RATIO and r["requests_per_process"] <= TARGET_REQUESTS
                figures.append(
                    Figure(
                        f"fleet_revocation_{kms}_{design}_{r['processes']}",
                        f"fleet, emergency revocation, {kms} KMS (Q = {quota:.0f}/s), {design}: "
                        f"N = {r['processes']:,} (simulated)",
                        f"100 % healed <= {TARGET_HEAL_RATIO} x N/Q; <= {TARGET_REQUESTS:g} KMS requests per process",
                        _measured(r),
                        verdict(ok) if design == "after" else INFO,
                        {k: v for k, v in r.items() if not k.startswith("curve")},
                    )
                )
    for n in settings.fleet_revocation_sizes:
        result = fleet.simulate(n, 0.2, 0, quota=KMS["shared"])
        delays = result["refresh_delay_after_rotation_s"]
        limit = n / KMS["shared"]
        figures.append(
            Figure(
                f"fleet_scheduled_shared_{n}",
                f"fleet, scheduled rotation, shared KMS (Q = 450/s): N = {n:,} (simulated)",
                "no throttled answer (the fleet spreads its fetches over the 5-minute jitter window)",
                f"{result['throttled']} throttled answers; peak {result['window_1s']['peak_per_s']:.0f} "
                f"GetSecretValue/s; 50 % / 100 % refreshed {delays['median']:.0f} / {delays['high']:.0f} s after "
                f"the rotation ({delays['median'] / limit:.1f} / {delays['high'] / limit:.1f} x N/Q, by design); "
                f"{result['requests_in_rotation_window'] / n:.2f} KMS requests per process; calls failed 0 (the "
                "old key is valid until RAM deletes it, after the window: an assumption, RAM does not document when)",
                verdict(result["throttled"] == 0),
                {k: v for k, v in result.items() if k in ("throttled", "refresh_delay_after_rotation_s", "window_1s")},
            )
        )
    if not settings.quick:
        path = fleet_figure.draw(drawn)
        if path is None:
            print("fleet: matplotlib is not installed (pip install -e '.[bench]'): no figure drawn")
    return figures
