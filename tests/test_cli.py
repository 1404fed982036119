"""`python -m credentials check`: names what to fix, shows masked key ids, never a secret; exit 0/1."""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_check(*args, cwd=None):
    env = dict(os.environ, PYTHONPATH=ROOT)
    env.pop("MANAGED_CREDENTIALS_PROVIDERS_CONFIG", None)
    return subprocess.run(
        [sys.executable, "-m", "credentials", "check", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd or ROOT,
        timeout=60,
    )


def test_check_fetches_and_masks(cloud, tmp_path):
    key_id, secret = cloud.create_secret("app-key")
    path = cloud.write_properties(str(tmp_path / "m.properties"))
    result = run_check("--config", path, "app-key")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{key_id[:4]}****{key_id[-4:]}" in result.stdout and "next rotation" in result.stdout
    assert secret not in result.stdout + result.stderr and key_id not in result.stdout


def test_check_broken_config_names_the_key_and_fails(tmp_path):
    path = tmp_path / "bad.properties"
    path.write_text(
        "credentials_type=ak\ncredentials_access_key_id=A\ncredentials_access_secret=S\n"
        'cache_client_region_id=[{"region":"cn-hangzhou"}]\n'
    )
    result = run_check("--config", str(path))
    assert result.returncode == 1
    assert "cache_client_region_id" in result.stdout and str(path) in result.stdout


def test_check_unknown_secret_fails_with_the_kms_code(cloud, tmp_path):
    path = cloud.write_properties(str(tmp_path / "m.properties"))
    result = run_check("--config", path, "missing-secret")
    assert result.returncode == 1
    assert "missing-secret" in result.stdout and "Forbidden.ResourceNotFound" in result.stdout


def test_check_finds_the_default_file_in_the_working_directory(cloud, tmp_path):
    cloud.create_secret("listed")
    cloud.write_properties(str(tmp_path / "managed_credentials_providers.properties"), secret_names=["listed"])
    result = run_check(cwd=str(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "'listed': OK" in result.stdout


def test_check_reports_every_problem_of_the_file_at_once(tmp_path):
    path = tmp_path / "bad.properties"
    path.write_text(
        "credentials_type=ak\ncredentials_access_key_id=A\n"
        'cache_client_region_id=[{"regionId":"cn-hangzhou"\nsecret_names=a,,b\n'
    )
    result = run_check("--config", str(path))
    assert result.returncode == 1
    problems = [line for line in result.stdout.splitlines() if line.startswith("config error:")]
    named = {
        key
        for key in ("credentials_access_secret", "cache_client_region_id", "secret_names")
        if any(f"'{key}'" in line for line in problems)
    }
    assert named == {"credentials_access_secret", "cache_client_region_id", "secret_names"}, result.stdout
    assert all(str(path) in line for line in problems)


def test_check_on_a_missing_file_names_it_and_fails(tmp_path):
    result = run_check("--config", str(tmp_path / "nowhere.properties"))
    assert result.returncode == 1 and "nowhere.properties" in result.stdout and "does not exist" in result.stdout


def test_check_with_a_client_key_fetches_and_masks(cloud, tmp_path):
    key_id, secret = cloud.create_secret("app-key")
    path = cloud.write_client_key_properties(str(tmp_path / "m.properties"))
    result = run_check("--config", path, "app-key")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "credentials_type=client_key" in result.stdout and f"{key_id[:4]}****{key_id[-4:]}" in result.stdout
    assert cloud.count("GetSecretValue", access_key_id=cloud.dkms.client_key.key_id, code="OK") == 1
    for value in (secret, key_id, cloud.dkms.client_key.password):
        assert value not in result.stdout + result.stderr


def test_check_with_a_wrong_client_key_password_names_file_and_key_once(cloud, tmp_path):
    path = cloud.write_client_key_properties(str(tmp_path / "m.properties"))
    with open(cloud.dkms.client_key.password_file, "w", encoding="utf-8") as handle:
        handle.write("WRONG-password-canary")
    result = run_check("--config", path, "app-key")
    assert result.returncode == 1
    problems = [line for line in result.stdout.splitlines() if line.startswith("config error:")]
    assert len(problems) == 1, result.stdout
    assert "'client_key_private_key_path'" in problems[0] and path in problems[0] and "does not open" in problems[0]
    assert "WRONG-password-canary" not in result.stdout + result.stderr
    assert cloud.count("GetSecretValue") == 0


STATUS_FIELDS = {
    "name",
    "kind",
    "access_key_id",
    "version",
    "fetched_at",
    "expires_at",
    "next_refresh_at",
    "last_error",
    "fetches",
    "fetch_failures",
    "reissues",
    "reissues_failed",
}


def status_lines(stdout):
    import json

    prefix = "  status: "
    return [json.loads(line[len(prefix) :]) for line in stdout.splitlines() if line.startswith(prefix)]


def test_check_prints_the_status_fields_of_each_secret(cloud, tmp_path):
    """The same fields as credentials.status() in a running process, one JSON line per secret fetched."""
    key_id, secret = cloud.create_secret("app-key")
    path = cloud.write_properties(str(tmp_path / "m.properties"))
    result = run_check("--config", path, "app-key", "missing-secret")
    assert result.returncode == 1
    ok, failed = status_lines(result.stdout)
    assert STATUS_FIELDS <= set(ok) and STATUS_FIELDS <= set(failed)
    assert (ok["name"], ok["kind"], ok["access_key_id"]) == (
        "app-key",
        "managed_secret",
        f"{key_id[:4]}****{key_id[-4:]}",
    )
    assert ok["version"] and ok["fetched_at"] and ok["next_refresh_at"] > ok["fetched_at"]
    assert (ok["fetches"], ok["fetch_failures"], ok["last_error"]) == (1, 0, None)
    assert (failed["name"], failed["access_key_id"], failed["fetches"], failed["fetch_failures"]) == (
        "missing-secret",
        None,
        1,
        1,
    )
    assert "Forbidden.ResourceNotFound" in failed["last_error"] and failed["last_error_at"]
    assert secret not in result.stdout + result.stderr and key_id not in result.stdout
