"""KMS (RPC API 2016-01-20): GetSecretValue for the emulator's managed secrets."""
import json

from .records import iso8601
from .rpc import RpcCall, RpcError, RpcService
from .state import CURRENT


class KmsService(RpcService):
    name = "kms"
    version = "2016-01-20"
    product = "Kms"

    def authorize(self, call: RpcCall) -> None:
        key = call.key
        if not key.kms_allowed or key.kms_denied:
            raise RpcError(403, "Forbidden.NoPermission", "This operation for this resource is forbidden by "
                                                          "permission system.")

    def action_GetSecretValue(self, call: RpcCall) -> dict:
        name = self.require(call, "SecretName")
        stage = call.param("VersionStage") or CURRENT
        version_id = call.param("VersionId")
        extended = (call.param("FetchExtendedConfig") or "").lower() == "true"

        secret = self.state.get_secret(name)
        version = find_version(secret, version_id, stage)
        if version is None:
            raise RpcError(404, "Forbidden.ResourceNotFound", "The resource not exists.")
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
    result = {"SecretName": secret.name, "VersionId": version.version_id, "CreateTime": iso8601(version.create_time),
              "SecretData": version.data, "SecretDataType": "text", "SecretType": secret.secret_type}
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
