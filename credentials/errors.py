"""The two exceptions this library raises: bad configuration, unavailable credentials.

Both carry the fields an operator needs to fix the problem (file, key, secret
name, KMS error code) and never a secret value.
"""
from typing import Optional


class ConfigError(ValueError):
    """The properties file (or a constructor argument) is wrong: says which file and key, and what is expected."""

    def __init__(self, message: str, *, file: Optional[str] = None, key: Optional[str] = None):
        self.file = file
        self.key = key
        where = []
        if file:
            where.append(f"file {file}")
        if key:
            where.append(f"key {key!r}")
        super().__init__(f"{', '.join(where)}: {message}" if where else message)


class CredentialsError(RuntimeError):
    """Credentials could not be obtained: names the secret (or source) and the error code, never a value."""

    def __init__(self, message: str, *, secret_name: Optional[str] = None, code: Optional[str] = None):
        self.secret_name = secret_name
        self.code = code
        self.reason = message  # what went wrong, without the secret's name and the code
        prefix = f"secret {secret_name!r}: " if secret_name else ""
        suffix = f" (error code {code})" if code else ""
        super().__init__(f"{prefix}{message}{suffix}")
