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
        "credentials/kms/signers.py",
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
        "            self._log_same_key(fresh)\n"
        "            state.why = explain_same_key(self.provider, state.error, state.stale)\n"
        "            raise state.error\n",
        "            self._log_same_key(fresh)\n",
        (
            "tests/test_proxy_acs_client.py::test_rejected_key_that_kms_keeps_returning_fails_bounded",
            "tests/test_reliability.py::test_a_key_kms_keeps_returning_is_not_refetched_in_a_storm",
        ),
    ),
    Mutant(
        "no-mandatory-window: tokens are used to their last second",
        "credentials/fetch_outcome.py",
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
        "    if rotation is None or (rotation <= now and (seen_passed or now - rotation > STALE_ROTATION_AGE)):\n"
        "        return periodic\n",
        "    return periodic\n",
        ("tests/test_managed_secret.py::test_refresh_is_scheduled_just_after_the_next_rotation_date",),
    ),
    Mutant(
        "no-jitter: every process of a fleet fetches at the same moment after NextRotationDate",
        "credentials/secret.py",
        "    after_rotation = max(rotation, now + MIN_REFRESH_DELAY) + uniform(0.0, window)\n",
        "    after_rotation = max(rotation, now + MIN_REFRESH_DELAY)\n",
        ("tests/test_managed_secret.py::test_a_fleet_spreads_its_fetches_after_a_rotation_over_the_jitter_window",),
    ),
    Mutant(
        "stale-date-polled: a NextRotationDate still passed at a second look keeps a provider polling every minute",
        "credentials/secret.py",
        "(rotation <= now and (seen_passed or now - rotation > STALE_ROTATION_AGE))",
        "(rotation <= now and False)",
        (
            "tests/test_managed_secret.py::test_a_stale_next_rotation_date_falls_back_to_the_periodic_refresh",
            "tests/test_managed_secret.py::test_a_date_kms_keeps_after_it_passed_is_looked_at_once_more_then_treated_as_stale",
        ),
    ),
    Mutant(
        "until-without-stop: a call given a deadline keeps retrying after it, with 1 ms timeouts each",
        "credentials/kms/retrying.py",
        "    stop = tenacity.stop_any(cast(tenacity.stop.stop_base, retrying.stop), cast(Any, _StopAt(deadline)))\n",
        "    stop = retrying.stop\n",
        ("tests/test_startup_timeout.py::test_the_kms_client_starts_no_attempt_after_the_deadline",),
    ),
    Mutant(
        "dkms-past-deadline: the dedicated KMS client retries past the start-up deadline",
        "credentials/kms/dedicated/client.py",
        "        return until(self._retrying, deadline)(self.get_from_any_instance, secret_name, deadline)\n",
        "        return self._retrying(self.get_from_any_instance, secret_name, deadline)\n",
        ("tests/test_dkms.py::test_the_dkms_client_starts_no_attempt_after_the_deadline",),
    ),
    Mutant(
        "tool-timeouts-whole: the Credentials tool's timeouts are held to the whole start-up timeout, not a third",
        "credentials/kms/access.py",
        "    third = max(1, int(config.startup_timeout * 1000 / 3))\n",
        "    third = max(1, int(config.startup_timeout * 1000))\n",
        ("tests/test_startup_timeout.py::test_the_credentials_tool_is_given_a_third_of_the_startup_timeout",),
    ),
    Mutant(
        "kept-hold: ProxyAcsClient.shutdown() does not release the registry hold",
        "proxy/acs/client.py",
        "        self._shut_down = True\n        self._source.release()\n        if self.session is not None:\n",
        "        self._shut_down = True\n        if self.session is not None:\n",
        ("tests/test_proxy_acs_client.py::test_context_manager_releases_the_shared_provider",),
    ),
    Mutant(
        "password-file-first: with both client-key password sources set, the file wins over the variable",
        "credentials/config/client_key.py",
        "    if env_name and os.environ.get(env_name):\n",
        "    if env_name and os.environ.get(env_name) and not path:\n",
        ("tests/test_client_key.py::test_the_password_variable_wins_over_the_password_file",),
    ),
    Mutant(
        "iterable-replayed: a body with __iter__ but no __next__ is judged replayable (a 0-byte object is stored)",
        "proxy/bodies.py",
        "        if isinstance(body, REPLAYABLE_VALUES):\n            continue\n",
        '        if isinstance(body, REPLAYABLE_VALUES) or not hasattr(body, "__next__"):\n            continue\n',
        (
            "tests/test_bodies.py::test_a_body_after_a_revocation_is_stored_as_the_plain_sdk_stores_it_or_not_sent_again",
        ),
    ),
    Mutant(
        "fork-default-session: a forked child's ProxyBucket gets a default session instead of the one you gave",
        "proxy/oss/bucket.py",
        '        renew_connections(getattr(self.session, "session", None))\n',
        "        self.session = oss2.Session()\n",
        ("tests/test_fork.py::test_a_forked_child_keeps_the_session_you_gave_and_opens_new_connections",),
    ),
    Mutant(
        "fork-shared-tea-socket: tea's pooled sessions are not renewed in a forked child",
        "proxy/openapi/credential.py",
        "    for session in pooled_sessions():\n        renew_connections(session)\n",
        "    pass\n",
        ("tests/test_fork.py::test_every_proxy_calls_on_connections_of_its_own_in_a_forked_child",),
    ),
    Mutant(
        "fork-held-lock: notes._noted_lock is not reset in a forked child",
        "proxy/notes.py",
        "    _noted_lock = threading.Lock()  # a parent's thread may have held it at the fork\n",
        "    pass\n",
        ("tests/test_fork.py::test_every_module_and_class_lock_of_ours_is_free_in_a_forked_child",),
    ),
    Mutant(
        "torn-getters: ProxyAcsClient.get_access_secret() reads the provider again",
        "proxy/acs/client.py",
        '        return self._pinned.read("access_key_secret", self._credentials).access_key_secret\n',
        "        return self._credentials().access_key_secret\n",
        ("tests/test_torn_keys.py::test_acs_key_getters_called_in_turn_return_one_version_from_25_threads",),
    ),
    Mutant(
        "bytes-flat-fallback: a bytes argument of an SDK log record is masked only by the flat fallback "
        "(the record loses its template and arguments)",
        "credentials/masking/redaction.py",
        "    if isinstance(value, bytes):\n        return _redact_bytes(value)\n",
        "    if isinstance(value, bytes):\n        return value\n",
        ("tests/test_sdk_log_redaction.py::test_a_bytes_argument_is_masked_as_bytes_and_the_template_is_kept",),
    ),
    Mutant(
        "mns-no-token-none: ProxyMnsAccount hands aliyun-mns-sdk a None token for a key without one",
        "proxy/mns/key.py",
        '        return self.credentials.security_token or ""\n',
        "        return self.credentials.security_token\n",
        ("tests/test_proxy_mns.py::test_a_token_is_sent_when_there_is_one_and_no_token_header_otherwise",),
    ),
    Mutant(
        "mns-resend-accepted: any Message Service error is re-issued (a send the service accepted is sent again)",
        "proxy/handlers.py",
        "        return isinstance(exception, MNSServerException) and exception.type in self.error_codes\n",
        "        return True\n",
        ("tests/test_proxy_mns.py::test_a_send_the_service_may_have_accepted_is_never_sent_again",),
    ),
    Mutant(
        "ots-code-only: every OTSAuthFailed refreshes (an unknown instance, a RAM denial, clock skew)",
        "proxy/handlers.py",
        "        return message in self.messages or (self._token_words and _expired_token(message))\n",
        "        return True\n",
        ("tests/test_proxy_ots.py::test_a_refusal_a_new_key_does_not_fix_is_raised_at_once_without_a_refresh",),
    ),
    Mutant(
        "loud-heal: the SDK's ERROR record of an attempt a proxy re-issues stays at ERROR",
        "credentials/masking/reissued.py",
        "    if not reissued:\n        return True\n",
        "    if not reissued or True:\n        return True\n",
        ("tests/test_quiet_heal.py::test_a_healed_revocation_of_a_proxy_acs_client_logs_no_error",),
    ),
    Mutant(
        "quiet-failure: a heal that fails is logged at DEBUG only",
        "proxy/outcomes.py",
        "        logging.ERROR if first else logging.DEBUG,",
        "        logging.DEBUG,",
        ("tests/test_quiet_heal.py::test_a_heal_that_fails_is_one_error_naming_the_secret_the_key_and_why",),
    ),
    Mutant(
        "lowered-everything: every SDK error record in a proxy call is lowered, not only a rejected key's",
        "proxy/reissue.py",
        "        return error is not None and self.is_expired_key_error(error)\n",
        "        return error is not None\n",
        ("tests/test_quiet_heal.py::test_an_sdk_error_record_about_anything_else_stays_at_error",),
    ),
    Mutant(
        "counted-on-success: a successful call takes the counts' lock",
        "proxy/reissue.py",
        "        token = ATTEMPT.set(self.judge_record)\n        try:\n            return attempt()\n",
        "        token = ATTEMPT.set(self.judge_record)\n        try:\n            with self.provider._stats._lock:\n"
        "                pass\n            return attempt()\n",
        ("tests/test_status.py::test_no_lock_is_taken_to_count_on_a_calls_success_path",),
    ),
    Mutant(
        "ots-record-unread: tablestore's ERROR record of a re-issued attempt is not read back (stays at ERROR)",
        "proxy/tablestore/client.py",
        "        return service_error_in_record(record, self.logger.name)\n",
        "        return None\n",
        ("tests/test_quiet_heal.py::test_a_healed_revocation_of_a_proxy_ots_client_logs_no_error",),
    ),
    Mutant(
        "sdk-other: ProxyLogClient's re-issues are counted under sdk=other",
        "proxy/sls/client.py",
        '            sdk="aliyun-log",\n',
        '            sdk="other",\n',
        ("tests/test_metrics.py::test_each_adapter_counts_its_reissues_under_its_sdk_name",),
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
