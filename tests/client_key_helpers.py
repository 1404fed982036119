"""Client-key helpers for the tests: the plain SDK signing with an application client key, nothing of ours."""

import base64
import json

import pytest
from aliyunsdkcore.acs_exception.exceptions import ServerException
from aliyunsdkcore.auth.algorithm import sha_hmac256
from aliyunsdkcore.client import AcsClient
from aliyunsdkcore.request import RpcRequest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

TIMEOUT = 5


def pkcs8_of(files) -> str:
    """The client key's private key as aliyunsdkcore's RSA algorithm takes it (base64 DER PKCS#8), opened here
    with cryptography alone: the plain-SDK tests do not go through our loader."""
    with open(files.key_file, encoding="utf-8") as handle:
        document = json.load(handle)
    key, _, _ = pkcs12.load_key_and_certificates(base64.b64decode(document["PrivateKeyData"]), files.password.encode())
    der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return base64.b64encode(der).decode()


def plain_client(key_id: str, private_key: str) -> AcsClient:
    """The plain SDK with a client key: the KeyId as AccessKeyId, the PKCS#8 key as the 'secret' its RSA
    algorithm signs with (the way the older secrets client signs KMS requests)."""
    return AcsClient(key_id, private_key, "cn-hangzhou", auto_retry=False, timeout=TIMEOUT, connect_timeout=TIMEOUT)


def rsa_get_secret(host: str, name: str) -> RpcRequest:
    request = RpcRequest("Kms", "2016-01-20", "GetSecretValue", signer=sha_hmac256)
    request.set_endpoint(host)
    request.set_protocol_type("http")
    request.set_method("POST")
    request.add_query_param("SecretName", name)
    request.add_query_param("FetchExtendedConfig", "true")
    return request


def server_error(client, request) -> ServerException:
    with pytest.raises(ServerException) as info:
        client.do_action_with_exception(request)
    return info.value
