"""KMS (RPC API 2016-01-20): GetSecretValue for the emulator's managed secrets.

Signed with an AccessKey (HMAC-SHA1, ACS3) or with an application client key (SHA256withRSA, checked against the
public key of a client key that cloud.dkms.issue_client_key() issued; a revoked one is InvalidAccessKeyId.NotFound).

    host, ca_file = cloud.add_kms_instance()       # KMS's standard API over TLS with a CA of its own
    cloud.write_client_key_properties(path)        # credentials_type=client_key for this emulator's KMS
"""

import json
import os
from typing import Iterable, List, Optional, Union

from .records import iso8601, write_properties_file
from .rpc import RpcCall, RpcError, RpcService
from .server import Response
from .state import CURRENT


class KmsService(RpcService):
    name = "kms"
    version = "2016-01-20"
    product = "Kms"

    def client_public_key(self, key_id: Optional[str]):
        """KMS takes application client keys (SHA256withRSA), the ones cloud.dkms.issue_client_key() issues."""
        return self.state.client_public_key(key_id)

    def authorize(self, call: RpcCall) -> None:
        if call.client_key_id is not None:
            return  # a client key's access point allows its secrets (the emulator grants them all)
        key = call.key
        if not key.kms_allowed or key.kms_denied:
            raise RpcError(
                403, "Forbidden.NoPermission", "This operation for this resource is forbidden by permission system."
            )

    def action_GetSecretValue(self, call: RpcCall) -> Union[dict, Response]:
        name = self.require(call, "SecretName")
        stage = call.param("VersionStage") or CURRENT
        version_id = call.param("VersionId")
        extended = (call.param("FetchExtendedConfig") or "").lower() == "true"

        secret = self.state.get_secret(name)
        version = find_version(secret, version_id, stage)
        if version is None:
            raise RpcError(404, "Forbidden.ResourceNotFound", "The resource not exists.")
        if secret.answer_override is not None:
            return Response(200, secret.answer_override, [("Content-Type", "application/json;charset=utf-8")])
        result = secret_value(secret, version, extended)
        result["VersionStages"] = {"VersionStage": sorted(version.stages)}
        return result


def find_version(secret, version_id=None, stage=None):
    """The version GetSecretValue asks for (by id, else by stage, else ACSCurrent), or None."""
    if secret is None:
        return None
    if version_id:
        return next((v for v in secret.versions if v.version_id == version_id), None)
    return secret.version(stage or CURRENT)


def secret_value(secret, version, extended: bool) -> dict:
    """The fields of a GetSecretValue answer, as KMS and the instance gateways both give them."""
    result = {
        "SecretName": secret.name,
        "VersionId": version.version_id,
        "CreateTime": iso8601(version.create_time),
        "SecretData": version.data,
        "SecretDataType": "text",
        "SecretType": secret.secret_type,
    }
    if extended:
        result["AutomaticRotation"] = "Enabled" if secret.rotation_interval is not None else "Disabled"
        if secret.rotation_interval is not None:
            result["RotationInterval"] = "%ds" % secret.rotation_interval
            result["NextRotationDate"] = iso8601(secret.next_rotation())
        if secret.last_rotation is not None:
            result["LastRotationDate"] = iso8601(secret.last_rotation)
        if secret.secret_type == "RAMCredentials":
            result["ExtendedConfig"] = json.dumps({"SecretSubType": "RamUserAccessKey", "UserName": secret.user_name})
    return result


def write_client_key_properties(
    cloud,
    path: str,
    client_key=None,
    password: Optional[str] = "file",
    env_variable: str = "KMS_CLIENT_KEY_PASSWORD",
    regions: Optional[List[dict]] = None,
    secret_names: Union[None, str, Iterable[str]] = None,
) -> str:
    """A properties file with credentials_type=client_key for shared KMS (the emulator's, unless `regions`, the
    cache_client_region_id items, says otherwise), with `client_key` (issued beside `path` if None; then it is
    cloud.dkms.client_key).

    password: "file" (client_key_password_from_file_path), "env" (client_key_password_from_env_variable names
    env_variable; the caller sets it), or None (no source: the caller may set $client_key_password)."""
    if client_key is None:
        client_key = cloud.dkms.client_key = cloud.dkms.issue_client_key(os.path.dirname(os.path.abspath(path)))
    regions = regions if regions is not None else [{"regionId": cloud.region_id, "endpoint": cloud.kms_endpoint}]
    lines = [
        "# written by tests.cloud.CloudEmulator (shared KMS, signed with a client key)",
        "credentials_type=client_key",
        "client_key_private_key_path=%s" % client_key.key_file,
        "cache_client_region_id=%s" % json.dumps(regions, separators=(",", ":")),
    ]
    if password == "file":
        lines.append("client_key_password_from_file_path=%s" % client_key.password_file)
    elif password == "env":
        lines.append("client_key_password_from_env_variable=%s" % env_variable)
    return write_properties_file(path, lines, secret_names)
