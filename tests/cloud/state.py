"""Everything the emulated cloud remembers, behind one lock.

Services (kms.py, ecs.py, oss.py, ...) and the facade only go through these
methods; every method that returns a stored thing returns a copy.
"""

import copy
import json
import threading
import time
import uuid
from typing import Dict, List, Optional, Tuple

from .records import (
    AccessKey,
    Bucket,
    CallRecord,
    Fault,
    Secret,
    SecretVersion,
    StoredObject,
    iso8601,
    new_access_key_id,
    new_access_key_secret,
    new_sts_access_key_id,
)

# Why check_key() refused a key; each service maps these to its own error codes.
KEY_NOT_FOUND = "not_found"  # unknown or deleted (revoked)
KEY_INACTIVE = "inactive"  # disabled
TOKEN_MISSING = "token_missing"  # STS-style key, request carries no token
TOKEN_MISMATCH = "token_mismatch"  # the token belongs to another key
TOKEN_MALFORMED = "token_malformed"  # a token nobody issued
TOKEN_UNEXPECTED = "token_unexpected"  # a plain key, but the request carries a token
TOKEN_EXPIRED = "token_expired"  # STS-style key past expires_at

CURRENT = "ACSCurrent"
PREVIOUS = "ACSPrevious"


class CloudState:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._keys: Dict[str, AccessKey] = {}
        self._secrets: Dict[str, Secret] = {}
        self._buckets: Dict[str, Bucket] = {}
        self._calls: List[CallRecord] = []
        self._faults: Dict[str, Fault] = {}
        self._held: Dict[str, int] = {}  # requests held at a fault's gate now, per service
        self._client_keys: Dict[str, object] = {}  # client key id -> RSA public key (revoked keys removed)

    # ---- access keys -------------------------------------------------------------------------------------------

    def add_key(
        self,
        access_key_id: Optional[str] = None,
        access_key_secret: Optional[str] = None,
        *,
        security_token: Optional[str] = None,
        expires_at: Optional[float] = None,
        kms_allowed: bool = False,
        owner: Optional[str] = None,
    ) -> AccessKey:
        with self.lock:
            if access_key_id is None:
                access_key_id = new_sts_access_key_id() if security_token else new_access_key_id()
            if access_key_id in self._keys and self._keys[access_key_id].status != "Deleted":
                raise ValueError("access key %r already exists" % access_key_id)
            key = AccessKey(
                access_key_id,
                access_key_secret or new_access_key_secret(),
                security_token=security_token,
                expires_at=expires_at,
                kms_allowed=kms_allowed,
                owner=owner,
            )
            self._keys[access_key_id] = key
            return copy.copy(key)

    def get_key(self, access_key_id: str) -> Optional[AccessKey]:
        with self.lock:
            key = self._keys.get(access_key_id)
            return copy.copy(key) if key else None

    def set_key_status(self, access_key_id: str, status: str) -> None:
        with self.lock:
            key = self._keys.get(access_key_id)
            if key is None:
                raise KeyError("unknown access key %r" % access_key_id)
            key.status = status
            if status == "Deleted":
                for secret in self._secrets.values():
                    if access_key_id in secret.key_ids:
                        secret.key_ids.remove(access_key_id)

    def set_kms_denied(self, access_key_id: str, denied: bool) -> None:
        with self.lock:
            key = self._keys.get(access_key_id)
            if key is None:
                raise KeyError("unknown access key %r" % access_key_id)
            key.kms_denied = denied

    def check_key(
        self, access_key_id: Optional[str], security_token: Optional[str], now: Optional[float] = None
    ) -> Tuple[Optional[AccessKey], Optional[str]]:
        """(key copy, None) when the key may sign requests, else (key copy or None, one of the KEY_/TOKEN_ reasons)."""
        now = time.time() if now is None else now
        with self.lock:
            key = self._keys.get(access_key_id or "")
            if key is None or key.status == "Deleted":
                return None, KEY_NOT_FOUND
            key = copy.copy(key)
            if key.status != "Active":
                return key, KEY_INACTIVE
            if key.security_token is None:
                return key, (TOKEN_UNEXPECTED if security_token else None)
            if not security_token:
                return key, TOKEN_MISSING
            if security_token != key.security_token:
                issued = any(k.security_token == security_token for k in self._keys.values())
                return key, (TOKEN_MISMATCH if issued else TOKEN_MALFORMED)
            if key.expires_at is not None and now >= key.expires_at:
                return key, TOKEN_EXPIRED
            return key, None

    # ---- client keys (application access points: KMS and the instance gateways verify their RSA signatures) ----

    def add_client_key(self, key_id: str, public_key: object) -> None:
        with self.lock:
            self._client_keys[key_id] = public_key

    def revoke_client_key(self, key_id: str) -> None:
        with self.lock:
            self._client_keys.pop(key_id, None)

    def client_public_key(self, key_id: Optional[str]) -> Optional[object]:
        """The public key of a live client key, or None (unknown or revoked)."""
        with self.lock:
            return self._client_keys.get(key_id or "")

    # ---- managed secrets ---------------------------------------------------------------------------------------

    def create_secret(self, name: str, rotation_interval: Optional[int], secret_type: str) -> AccessKey:
        with self.lock:
            if name in self._secrets:
                raise ValueError("secret %r already exists" % name)
            now = time.time()
            secret = Secret(
                name=name,
                secret_type=secret_type,
                rotation_interval=rotation_interval,
                user_name="user-" + name,
                create_time=now,
            )
            self._secrets[name] = secret
            return self._new_secret_key(secret, now)

    def rotate_secret(self, name: str, revoke_old: bool) -> AccessKey:
        """New key and version; the old current version becomes ACSPrevious.

        revoke_old: the secret's previous keys are deleted at once. Otherwise the newest old key stays
        usable (a RAM user holds at most two keys, so any older one is deleted, as the real rotation does).
        """
        with self.lock:
            secret = self._secret(name)
            now = time.time()
            old_ids = list(secret.key_ids)
            keep = () if revoke_old else old_ids[-1:]
            for key_id in old_ids:
                if key_id not in keep:
                    self.set_key_status(key_id, "Deleted")
            secret.last_rotation = now
            secret.next_rotation_override = None
            return self._new_secret_key(secret, now)

    def set_secret_data(self, name: str, raw_text: str) -> None:
        """A new current version holding exactly raw_text (like PutSecretValue)."""
        with self.lock:
            self._push_version(self._secret(name), raw_text, time.time())

    def set_next_rotation(self, name: str, epoch: Optional[float]) -> None:
        with self.lock:
            self._secret(name).next_rotation_override = epoch

    def set_answer(self, name: str, body: Optional[bytes]) -> None:
        with self.lock:
            self._secret(name).answer_override = body

    def current_key(self, name: str) -> AccessKey:
        with self.lock:
            secret = self._secret(name)
            if not secret.key_ids:
                raise KeyError("secret %r has no live access key" % name)
            return copy.copy(self._keys[secret.key_ids[-1]])

    def secret_names(self) -> List[str]:
        with self.lock:
            return sorted(self._secrets)

    def get_secret(self, name: str) -> Optional[Secret]:
        with self.lock:
            secret = self._secrets.get(name)
            return copy.deepcopy(secret) if secret else None

    def _secret(self, name: str) -> Secret:
        secret = self._secrets.get(name)
        if secret is None:
            raise KeyError("unknown secret %r" % name)
        return secret

    def _new_secret_key(self, secret: Secret, now: float) -> AccessKey:
        key = self.add_key(owner=secret.name)
        secret.key_ids.append(key.access_key_id)
        data = json.dumps(
            {
                "AccessKeyId": key.access_key_id,
                "AccessKeySecret": key.access_key_secret,
                "GenerateTimestamp": iso8601(now),
            }
        )
        self._push_version(secret, data, now)
        return key

    @staticmethod
    def _push_version(secret: Secret, data: str, now: float) -> None:
        for v in secret.versions:
            v.stages.discard(PREVIOUS)
        for v in secret.versions:
            if CURRENT in v.stages:
                v.stages.discard(CURRENT)
                v.stages.add(PREVIOUS)
        secret.versions.append(
            SecretVersion(version_id=str(uuid.uuid4()), data=data, create_time=now, stages={CURRENT})
        )
        # keep only versions that still carry a stage
        secret.versions = [v for v in secret.versions if v.stages]

    # ---- OSS buckets and objects -------------------------------------------------------------------------------

    def create_bucket(self, name: str) -> bool:
        """True when created, False when it already existed."""
        with self.lock:
            if name in self._buckets:
                return False
            self._buckets[name] = Bucket(name, time.time())
            return True

    def delete_bucket(self, name: str) -> Optional[bool]:
        """True when deleted, False when it holds objects, None when it does not exist."""
        with self.lock:
            b = self._buckets.get(name)
            if b is None:
                return None
            if b.objects:
                return False
            del self._buckets[name]
            return True

    def bucket_exists(self, name: str) -> bool:
        with self.lock:
            return name in self._buckets

    def list_buckets(self) -> List[Tuple[str, float]]:
        with self.lock:
            return sorted((b.name, b.create_time) for b in self._buckets.values())

    def put_object(self, bucket: str, key: str, obj: StoredObject, create_bucket: bool) -> bool:
        """False when the bucket does not exist (and create_bucket is False)."""
        with self.lock:
            if bucket not in self._buckets:
                if not create_bucket:
                    return False
                self.create_bucket(bucket)
            self._buckets[bucket].objects[key] = obj
            return True

    def get_object(self, bucket: str, key: str) -> Optional[StoredObject]:
        with self.lock:
            b = self._buckets.get(bucket)
            obj = b.objects.get(key) if b else None
            return copy.copy(obj) if obj else None

    def delete_object(self, bucket: str, key: str) -> None:
        with self.lock:
            b = self._buckets.get(bucket)
            if b:
                b.objects.pop(key, None)

    def list_objects(self, bucket: str) -> Optional[List[Tuple[str, StoredObject]]]:
        """Sorted (key, object) pairs, or None when the bucket does not exist."""
        with self.lock:
            b = self._buckets.get(bucket)
            if b is None:
                return None
            return sorted((k, copy.copy(o)) for k, o in b.objects.items())

    # ---- call log ----------------------------------------------------------------------------------------------

    def log_call(
        self,
        service: str,
        action: Optional[str],
        access_key_id: Optional[str],
        status: int,
        code: str,
        resource: str = "",
    ) -> None:
        with self.lock:
            self._calls.append(CallRecord(service, action, access_key_id, status, code, time.time(), resource))

    def calls(self) -> List[CallRecord]:
        with self.lock:
            return list(self._calls)

    def count(
        self,
        action: Optional[str] = None,
        access_key_id: Optional[str] = None,
        code: Optional[str] = None,
        service: Optional[str] = None,
    ) -> int:
        with self.lock:
            return sum(
                1
                for c in self._calls
                if (action is None or c.action == action)
                and (access_key_id is None or c.access_key_id == access_key_id)
                and (code is None or c.code == code)
                and (service is None or c.service == service)
            )

    def reset_calls(self) -> None:
        with self.lock:
            self._calls.clear()

    # ---- faults ------------------------------------------------------------------------------------------------

    def set_fault(self, service: str, fault: Fault) -> None:
        with self.lock:
            self._faults[service] = fault

    def clear_faults(self, service: Optional[str] = None) -> None:
        with self.lock:
            if service is None:
                self._faults.clear()
            else:
                self._faults.pop(service, None)

    def pending_fault(self, service: str) -> Optional[Fault]:
        """The fault the service's next request will take (a copy), or None: lets a test wait until a request
        has taken its fault instead of sleeping."""
        with self.lock:
            fault = self._faults.get(service)
            return copy.copy(fault) if fault is not None else None

    def held(self, service: str) -> int:
        """How many of the service's requests are held at a fault's gate now (arrived, not answered)."""
        with self.lock:
            return self._held.get(service, 0)

    def count_held(self, service: str, change: int) -> None:
        with self.lock:
            self._held[service] = self._held.get(service, 0) + change

    def take_fault(self, service: str) -> Optional[Fault]:
        """The fault for this request (a copy), counting it against `remaining`."""
        with self.lock:
            fault = self._faults.get(service)
            if fault is None:
                return None
            if fault.until is not None and (fault.clock or time.monotonic)() >= fault.until:
                del self._faults[service]  # a window of time that has passed
                return None
            if fault.remaining is not None:
                fault.remaining -= 1
                if fault.remaining <= 0:
                    del self._faults[service]
            return copy.copy(fault)
