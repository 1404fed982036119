"""Every sample runs as a user would run it (`python samples/X.py` from the repository root) and says OK."""

import glob
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLES = sorted(
    os.path.basename(p)
    for p in glob.glob(os.path.join(ROOT, "samples", "*.py"))
    if not os.path.basename(p).startswith("_")
)


@pytest.mark.parametrize("sample", SAMPLES)
def test_sample_runs(sample, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "MANAGED_CREDENTIALS_PROVIDERS_CONFIG"}
    result = subprocess.run(
        [sys.executable, os.path.join(ROOT, "samples", sample)],
        cwd=str(tmp_path),
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{sample[:-3]}: OK" in result.stdout, result.stdout
