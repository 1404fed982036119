"""The minimum mutation pass (tests/README.md): put each listed bug back, one at a time, and check that the test
named for it fails; the file is restored afterwards, whatever happens.

    python -m tests.mutation_pass            # every mutant
    python -m tests.mutation_pass torn-pair  # the ones whose name contains "torn-pair"

Exit status 0 when every mutant was killed. A mutant whose code is not found ("not applicable") means the module
changed: port the mutant (its `old` text) to where that code now lives, keeping the bug it describes.
"""

import os
import subprocess
import sys
from typing import List, NamedTuple, Tuple

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Mutant(NamedTuple):
    name: str
    path: str  # relative to the repository root
    old: str  # exact text, found exactly once
    new: str
    tests: Tuple[str, ...]  # pytest node ids that must fail with the mutant in place


MUTANTS = (
    Mutant(
        "torn-pair: the ACS signer reads key id and secret through two get_credentials() calls",
        "credentials/acs_signer.py",
        "        header = request.get_signed_header(region_id, creds.access_key_id, creds.access_key_secret)\n"
        "        url = request.get_url(region_id, creds.access_key_id, creds.access_key_secret)\n",
        "        secret = self.provider.get_credentials().access_key_secret\n"
        "        header = request.get_signed_header(region_id, creds.access_key_id, secret)\n"
        "        url = request.get_url(region_id, creds.access_key_id, secret)\n",
        ("tests/test_torn_keys.py::test_proxy_acs_client_reads_one_snapshot_per_request",),
    ),
    Mutant(
        "same-key: a refresh that returned the rejected key is re-sent anyway",
        "proxy/reissue.py",
        '            logger.debug("refresh returned the rejected key %s again", mask(fresh.access_key_id))\n'
        "            self._explain_same_key(state)\n"
        "            raise state.error\n",
        '            logger.debug("refresh returned the rejected key %s again", mask(fresh.access_key_id))\n',
        (
            "tests/test_proxy_acs_client.py::test_rejected_key_that_kms_keeps_returning_fails_bounded",
            "tests/test_reliability.py::test_a_key_kms_keeps_returning_is_not_refetched_in_a_storm",
        ),
    ),
    Mutant(
        "no-mandatory-window: tokens are used to their last second",
        "credentials/provider.py",
        "    return min(600.0, max(lifetime * 0.1, 1.0))\n",
        "    return 0.0\n",
        ("tests/test_provider.py::test_mandatory_window_blocks_for_a_fresh_token",),
    ),
    Mutant(
        "swallowed-refresh-error: a failed refresh returns the stale key instead of ending the call",
        "proxy/reissue.py",
        "            state.final = True\n"
        "            raise explain(state.error, refresh_failed_note(self.provider, exc), exc) from exc\n",
        "            return state.stale  # type: ignore[return-value]\n",
        ("tests/test_reissue.py::test_a_refresh_that_fails_ends_the_call_with_the_service_error_at_once",),
    ),
    Mutant(
        "no-rotation-schedule: next_refresh_at ignores NextRotationDate",
        "credentials/secret.py",
        "    if value.next_rotation is None:\n        return periodic\n",
        "    return periodic\n",
        ("tests/test_managed_secret.py::test_refresh_is_scheduled_just_after_the_next_rotation_date",),
    ),
    Mutant(
        "kept-hold: ProxyAcsClient.shutdown() does not release the registry hold",
        "proxy/acs_client.py",
        "        self._shut_down = True\n        self._source.release()\n        if self.session is not None:\n",
        "        self._shut_down = True\n        if self.session is not None:\n",
        ("tests/test_proxy_acs_client.py::test_context_manager_releases_the_shared_provider",),
    ),
    Mutant(
        "bytes-flat-fallback: a bytes argument of an SDK log record is masked only by the flat fallback "
        "(the record loses its template and arguments)",
        "credentials/redaction.py",
        "    if isinstance(value, bytes):\n        return _redact_bytes(value)\n",
        "    if isinstance(value, bytes):\n        return value\n",
        ("tests/test_sdk_log_redaction.py::test_a_bytes_argument_is_masked_as_bytes_and_the_template_is_kept",),
    ),
)


def run_tests(tests: Tuple[str, ...]) -> bool:
    """True when every named test passed."""
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", *tests],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=600,
    )
    return done.returncode == 0


def kill(mutant: Mutant) -> str:
    """'killed', 'SURVIVED' or 'not applicable'; the file is always restored."""
    path = os.path.join(ROOT, mutant.path)
    with open(path, encoding="utf-8") as handle:
        original = handle.read()
    if original.count(mutant.old) != 1:
        return "not applicable"
    try:
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(original.replace(mutant.old, mutant.new))
        return "SURVIVED" if run_tests(mutant.tests) else "killed"
    finally:
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(original)


def main(argv: List[str]) -> int:
    chosen = [m for m in MUTANTS if not argv or any(a in m.name for a in argv)]
    if not run_tests(tuple(t for m in chosen for t in m.tests)):
        print("the named tests fail without any mutant: fix that first")
        return 1
    outcomes = [(kill(m), m) for m in chosen]
    for outcome, mutant in outcomes:
        print(f"{outcome:15} {mutant.name}  [{mutant.path}]")
    return 0 if all(outcome == "killed" for outcome, _ in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
