"""The emulator's KMS takes application client keys (SHA256withRSA), proven with the plain SDK; then our request is
shown identical to the plain SDK's, parameter for parameter, and its signature verified with the key's public half."""

import base64
import json
import time
from urllib.parse import parse_qsl, urlsplit

import requests
from aliyunsdkcore.auth.algorithm import sha_hmac256
from aliyunsdkcore.request import RpcRequest
from aliyunsdkcore.utils import parameter_helper
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from credentials.config import read_config
from credentials.kms.client import KmsClient
from tests.client_key_helpers import TIMEOUT, pkcs8_of, plain_client, rsa_get_secret, server_error
from tests.cloud.kms import KmsService
from tests.cloud.signing import rpc_v1_string_to_sign

# ---- the emulator, proven with the plain SDK ------------------------------------------------------------------------


def test_plain_sdk_signs_with_a_client_key_and_the_emulator_accepts_it(cloud, tmp_path):
    key_id, _ = cloud.create_secret("app-key")
    files = cloud.dkms.issue_client_key(str(tmp_path))
    body = json.loads(
        plain_client(files.key_id, pkcs8_of(files)).do_action_with_exception(rsa_get_secret(cloud.kms_host, "app-key"))
    )
    assert json.loads(body["SecretData"])["AccessKeyId"] == key_id
    assert body["NextRotationDate"] and body["VersionStages"]["VersionStage"] == ["ACSCurrent"]
    assert cloud.count("GetSecretValue", access_key_id=files.key_id, code="OK") == 1


def test_plain_sdk_revoked_or_unknown_client_key_is_refused_as_an_unknown_access_key(cloud, tmp_path):
    cloud.create_secret("app-key")
    files = cloud.dkms.issue_client_key(str(tmp_path))
    client = plain_client(files.key_id, pkcs8_of(files))
    cloud.dkms.revoke_client_key(files.key_id)
    error = server_error(client, rsa_get_secret(cloud.kms_host, "app-key"))
    assert (error.get_http_status(), error.get_error_code()) == (404, "InvalidAccessKeyId.NotFound")

    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    der = stranger.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    error = server_error(
        plain_client("KAAP.never-issued", base64.b64encode(der).decode()), rsa_get_secret(cloud.kms_host, "app-key")
    )
    assert error.get_error_code() == "InvalidAccessKeyId.NotFound"


def test_plain_sdk_signature_by_another_key_does_not_match(cloud, tmp_path):
    """The emulator answers SignatureDoesNotMatch with its string to sign; the SDK, finding it equal to its own,
    reports InvalidAccessKeySecret: proof that the emulator builds the string to sign exactly as the SDK does."""
    cloud.create_secret("app-key")
    files = cloud.dkms.issue_client_key(str(tmp_path))
    other = cloud.dkms.issue_client_key(str(tmp_path / "other"))
    error = server_error(plain_client(files.key_id, pkcs8_of(other)), rsa_get_secret(cloud.kms_host, "app-key"))
    assert (error.get_http_status(), error.get_error_code()) == (400, "InvalidAccessKeySecret")
    assert cloud.count("GetSecretValue", code="SignatureDoesNotMatch") == 1


def test_a_tampered_or_malformed_rsa_signature_is_refused(cloud, tmp_path):
    cloud.create_secret("app-key")
    files = cloud.dkms.issue_client_key(str(tmp_path))
    request = rsa_get_secret(cloud.kms_host, "app-key")
    url = request.get_url("cn-hangzhou", files.key_id, pkcs8_of(files))
    params = dict(parse_qsl(urlsplit(url).query))
    for changed, code in (
        (dict(params, SecretName="other"), "SignatureDoesNotMatch"),
        (dict(params, Signature="not*base64"), "IncompleteSignature"),
        (dict(params, SignatureType="PUBLICKEY"), "InvalidSignatureMethod"),
    ):
        answer = requests.post(cloud.kms_endpoint + "/", params=changed, timeout=TIMEOUT)
        assert (answer.status_code, answer.json()["Code"]) == (400, code)
    assert requests.post(cloud.kms_endpoint + "/", params=params, timeout=TIMEOUT).status_code == 200


def test_other_rpc_services_do_not_take_client_keys(cloud, tmp_path):
    files = cloud.dkms.issue_client_key(str(tmp_path))
    request = RpcRequest("Ecs", "2014-05-26", "DescribeRegions", signer=sha_hmac256)
    request.set_endpoint(cloud.ecs_host)
    request.set_protocol_type("http")
    error = server_error(plain_client(files.key_id, pkcs8_of(files)), request)
    assert error.get_error_code() == "InvalidAccessKeyId.NotFound"


# ---- wire fidelity: our request is the plain SDK's ------------------------------------------------------------------


class Recorder:
    """KMS behind a listener that keeps every request's method and parameters (real HTTP, nothing mocked)."""

    name = "kms-recorded"

    def __init__(self, cloud):
        self.service = KmsService(cloud.state, cloud.region_id)
        self.seen = []

    def handle(self, request):
        self.seen.append((request.method, request.path, dict(request.query_pairs)))
        return self.service.handle(request)


def test_our_request_is_the_plain_sdks_parameter_for_parameter_and_verifies_with_the_public_key(
    cloud, tmp_path, monkeypatch
):
    cloud.create_secret("app-key")
    recorder = Recorder(cloud)
    host = cloud.add_service(recorder.name, recorder).address
    path = cloud.write_client_key_properties(
        str(tmp_path / "m.properties"), regions=[{"regionId": cloud.region_id, "endpoint": "http://" + host}]
    )
    files = cloud.dkms.client_key
    timestamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    monkeypatch.setattr(parameter_helper, "get_iso_8061_date", lambda: timestamp)  # the same inputs for both
    monkeypatch.setattr(parameter_helper, "get_uuid", lambda: "6f1c6ad0c35f4bbd9c4c8f1e1f3b2a10")

    plain_client(files.key_id, pkcs8_of(files)).do_action_with_exception(rsa_get_secret(host, "app-key"))
    config = read_config(path)
    KmsClient(config.endpoints, config.client_key, attempts=1).get_secret_value("app-key")

    assert len(recorder.seen) == 2
    (plain_method, plain_path, plain), (our_method, our_path, ours) = recorder.seen
    assert (our_method, our_path) == (plain_method, plain_path) == ("POST", "/")
    assert ours == plain  # every parameter, the Signature included (PKCS#1 v1.5 signatures are deterministic)
    assert {k: ours[k] for k in ("SignatureMethod", "SignatureType", "SignatureVersion", "AccessKeyId")} == {
        "SignatureMethod": "SHA256withRSA",
        "SignatureType": "PRIVATEKEY",
        "SignatureVersion": "1.0",
        "AccessKeyId": files.key_id,
    }
    public_key = cloud.dkms.public_key(files.key_id)
    public_key.verify(
        base64.b64decode(ours["Signature"]),
        rpc_v1_string_to_sign("POST", ours).encode(),
        padding.PKCS1v15(),
        hashes.SHA256(),
    )  # raises InvalidSignature if not
    assert cloud.count("GetSecretValue", access_key_id=files.key_id, code="OK") == 2
