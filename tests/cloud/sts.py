"""STS (RPC API 2015-04-01) over TLS: AssumeRole and AssumeRoleWithOIDC issue short-lived STS keys.

Each issued key is a key of the emulated cloud (state.add_key with its security token and expiry): ECS, OSS
and KMS accept it with that token and refuse it after expiry (InvalidSecurityToken.Expired /
SecurityTokenExpired). The Credentials tool forces https for STS, so this service listens with TLS, with a
certificate from the process's test CA (tls.py): clients trust it through SSL_CERT_FILE=cloud.sts.ca_file.

    cloud.sts.host                  # 127.0.0.1:PORT, for Config(sts_endpoint=...) / ALIBABA_CLOUD_STS_ENDPOINT
    cloud.sts.lifetime = 20         # seconds every issued key lives, whatever DurationSeconds asked (None: as asked)
    cloud.sts.role_arn("demo")      # acs:ram::<account>:role/demo (any well-formed role ARN is accepted)
    token = cloud.sts.issue_oidc_token()   # an OIDC token AssumeRoleWithOIDC accepts
    cloud.sts.expire(access_key_id) # an issued key expires now
    cloud.count("AssumeRole", service="sts")
"""

import json
import re
import secrets
import threading
import time
from typing import Optional, Set

from .records import AccessKey, iso8601, new_security_token, random_text
from .rpc import RpcCall, RpcError, RpcService
from .state import CloudState
from .tls import test_ca

ACCOUNT_ID = "1234567890123456"
_ROLE_ARN = re.compile(r"^acs:ram::(\d+):role/([\w.@-]{1,64})$", re.IGNORECASE)
_OIDC_PROVIDER_ARN = re.compile(r"^acs:ram::(\d+):oidc-provider/([\w.-]{1,128})$", re.IGNORECASE)
_SESSION_NAME = re.compile(r"^[\w.@-]{2,64}$")
MIN_DURATION, MAX_DURATION = 900, 43200


def issue_session_key(state: CloudState, lifetime: float, owner: Optional[str] = None) -> AccessKey:
    """A new STS-style key (STS.xxx id, token) that every emulated service accepts until now + lifetime."""
    expires_at = int(time.time()) + int(lifetime)  # whole seconds: the Expiration the client reads is exact
    return state.add_key(security_token=new_security_token(), expires_at=expires_at, kms_allowed=True, owner=owner)


def expire_key(state: CloudState, access_key_id: str) -> None:
    """Make an issued STS key expired from now on (its token stays the same)."""
    key = state.get_key(access_key_id)
    if key is None or key.security_token is None:
        raise KeyError("no STS key %r" % access_key_id)
    state.set_key_status(access_key_id, "Deleted")
    state.add_key(
        access_key_id,
        key.access_key_secret,
        security_token=key.security_token,
        expires_at=time.time() - 1,
        kms_allowed=key.kms_allowed,
        owner=key.owner,
    )


def credentials_body(key: AccessKey) -> dict:
    return {
        "AccessKeyId": key.access_key_id,
        "AccessKeySecret": key.access_key_secret,
        "SecurityToken": key.security_token,
        "Expiration": iso8601(key.expires_at),
    }


class StsService(RpcService):
    name = "sts"
    version = "2015-04-01"
    product = "Sts"
    anonymous_actions = frozenset({"AssumeRoleWithOIDC"})

    def __init__(self, state: CloudState, region_id: str = "cn-hangzhou"):
        super().__init__(state, region_id)
        self.lifetime: Optional[float] = None
        self.listener = None  # set by add_to()
        self._lock = threading.Lock()
        self._oidc_tokens: Set[str] = set()

    # ---- for tests ---------------------------------------------------------------------------------------------

    @property
    def host(self) -> str:
        return self.listener.address

    @property
    def ca_file(self) -> str:
        return test_ca().ca_file

    @staticmethod
    def role_arn(role_name: str = "demo-role") -> str:
        return "acs:ram::%s:role/%s" % (ACCOUNT_ID, role_name)

    @staticmethod
    def oidc_provider_arn(name: str = "demo-oidc") -> str:
        return "acs:ram::%s:oidc-provider/%s" % (ACCOUNT_ID, name)

    def issue_oidc_token(self) -> str:
        """A JWT-shaped token that AssumeRoleWithOIDC accepts from now on."""
        token = "eyJhbGciOiJSUzI1NiJ9.%s.%s" % (random_text(40), random_text(40))
        with self._lock:
            self._oidc_tokens.add(token)
        return token

    def revoke_oidc_token(self, token: str) -> None:
        with self._lock:
            self._oidc_tokens.discard(token)

    def expire(self, access_key_id: str) -> None:
        expire_key(self.state, access_key_id)

    # ---- API -----------------------------------------------------------------------------------------------------

    def _authenticate(self, call: RpcCall) -> None:
        if call.action in self.anonymous_actions:
            return  # the OIDC token is the credential
        super()._authenticate(call)

    def action_AssumeRole(self, call: RpcCall) -> dict:
        role_arn = self.require(call, "RoleArn")
        match = _ROLE_ARN.match(role_arn)
        if not match:
            raise RpcError(400, "InvalidParameter.RoleArn", "The parameter RoleArn is wrongly formed.")
        session = self._session_name(call)
        key = self._issue(call, owner="role/" + match.group(2))
        return {"AssumedRoleUser": self._assumed(match, session), "Credentials": credentials_body(key)}

    def action_AssumeRoleWithOIDC(self, call: RpcCall) -> dict:
        provider_arn = self.require(call, "OIDCProviderArn")
        role_arn = self.require(call, "RoleArn")
        token = self.require(call, "OIDCToken")
        if not _OIDC_PROVIDER_ARN.match(provider_arn):
            raise RpcError(400, "InvalidParameter.OIDCProviderArn", "The parameter OIDCProviderArn is wrongly formed.")
        match = _ROLE_ARN.match(role_arn)
        if not match:
            raise RpcError(400, "InvalidParameter.RoleArn", "The parameter RoleArn is wrongly formed.")
        with self._lock:
            known = token in self._oidc_tokens
        if not known:
            raise RpcError(400, "AuthenticationFail.OIDCToken.Invalid", "The OIDC token is invalid.")
        session = self._session_name(call)
        key = self._issue(call, owner="oidc-role/" + match.group(2))
        return {
            "AssumedRoleUser": self._assumed(match, session),
            "Credentials": credentials_body(key),
            "OIDCTokenInfo": {
                "Issuer": "https://oidc.emulator.local",
                "Subject": "system:serviceaccount:demo",
                "ClientIds": "sts.aliyuncs.com",
            },
        }

    # ---- helpers ---------------------------------------------------------------------------------------------------

    def _session_name(self, call: RpcCall) -> str:
        session = call.param("RoleSessionName") or ""
        if not _SESSION_NAME.match(session):
            raise RpcError(400, "InvalidParameter.RoleSessionName", "The parameter RoleSessionName is wrongly formed.")
        return session

    def _issue(self, call: RpcCall, owner: str) -> AccessKey:
        raw = call.param("DurationSeconds") or "3600"
        try:
            duration = int(raw)
        except ValueError:
            duration = -1
        if not MIN_DURATION <= duration <= MAX_DURATION:
            raise RpcError(
                400, "InvalidParameter.DurationSeconds", "The Min/Max value of DurationSeconds is 15min/12hr."
            )
        policy = call.param("Policy")
        if policy:
            try:
                json.loads(policy)
            except ValueError:
                raise RpcError(400, "InvalidParameter.PolicyGrammar", "The parameter Policy has not a valid grammar.")
        return issue_session_key(self.state, self.lifetime or duration, owner=owner)

    @staticmethod
    def _assumed(match, session: str) -> dict:
        return {
            "Arn": "acs:ram::%s:assumed-role/%s/%s" % (match.group(1), match.group(2), session),
            "AssumedRoleId": "3%s:%s" % (secrets.randbelow(10**17), session),
        }


def add_to(cloud) -> StsService:
    """Serve STS over TLS on its own port as `cloud.sts`."""
    service = StsService(cloud.state, cloud.region_id)
    service.listener = cloud.add_service("sts", service, tls=True, ssl_context=test_ca().server_context())
    cloud.sts = service
    return service
