"""The benchmark entry point runs (quick mode, tiny counts). No timing is asserted: the figures live in
benchmarks/RESULTS.md, measured on purpose, not in a test suite on a shared machine."""

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXPECTED = {
    "cpu_acs",
    "cpu_oss_put",
    "cpu_oss_get",
    "acs_per_call",
    "oss_put",
    "oss_get",
    "provider_single",
    "provider_threads",
    "clients_acs",
    "clients_oss",
    "startup_source",  # --quick: the source tree (a full run: startup_wheel, startup_editable...)
    "import_cost",
    "rotation_recovery",
    "fleet",
    "fleet_revocation_shared_before_1000",
    "fleet_revocation_shared_after_1000",
    "fleet_revocation_dedicated_after_1000",
    "fleet_scheduled_shared_1000",
    "dkms_fetch_cpu",
    "oss_v2_put",
    "oss_v2_get",
    "mns_send",
    "ots_get_row",
    "sls_put_logs",
    "sls_get_cursor",
    "cpu_oss_v2_put",
    "cpu_oss_v2_get",
    "constructor_beside_a_held_fetch",
    "event_loop_gap_async_construction",
}


def _run(argv, tmp_path):
    out = tmp_path / "results.json"
    done = subprocess.run(
        [sys.executable] + argv + ["--quick", "--json", str(out)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        timeout=90,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return json.loads(out.read_text(encoding="utf-8")), done.stdout


def _stamp(path):
    return os.stat(path).st_mtime_ns if os.path.exists(path) else None


def test_python_m_benchmarks_quick_runs_every_figure(tmp_path):
    results_md = os.path.join(ROOT, "benchmarks", "RESULTS.md")
    before = _stamp(results_md)
    document, stdout = _run(["-m", "benchmarks"], tmp_path)
    keys = {f["key"] for f in document["figures"]}
    assert EXPECTED <= keys
    assert document["machine"]["cores"] and document["machine"]["cpu"]
    assert all(f["measured"] and f["verdict"] in ("met", "missed", "info") for f in document["figures"])
    assert "total" in stdout
    assert _stamp(results_md) == before  # a smoke run never overwrites the measured results


def test_run_py_as_a_script(tmp_path):
    document, _ = _run([os.path.join("benchmarks", "run.py"), "--only", "fleet,provider"], tmp_path)
    assert {f["key"] for f in document["figures"]} >= {"fleet", "provider_single"}
