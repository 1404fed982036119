"""The two exceptions this library raises: bad configuration, unavailable credentials.

Both carry the fields an operator needs to fix the problem (file, key, secret
name, KMS error code) and never a secret value.
"""

from typing import Any, Dict, Optional, Tuple, Type


def _restore(cls: Type[BaseException], args: Tuple[Any, ...], state: Dict[str, Any]) -> BaseException:
    error = cls.__new__(cls, *args)
    error.args = args
    error.__dict__.update(state)
    return error


class _Picklable:
    """Exceptions with keyword-only fields cross process boundaries (multiprocessing pools) whole: the default
    pickling calls ``cls(*args)``, which a keyword-only constructor refuses."""

    def __reduce__(self) -> Any:
        assert isinstance(self, BaseException)
        return _restore, (type(self), self.args, dict(self.__dict__))


class ConfigError(_Picklable, ValueError):
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


class CredentialsError(_Picklable, RuntimeError):
    """Credentials could not be obtained: names the secret (or source) and the error code, never a value."""

    def __init__(self, message: str, *, secret_name: Optional[str] = None, code: Optional[str] = None):
        self.secret_name = secret_name
        self.code = code
        self.reason = message  # what went wrong, without the secret's name and the code
        prefix = f"secret {secret_name!r}: " if secret_name else ""
        suffix = f" (error code {code})" if code else ""
        super().__init__(f"{prefix}{message}{suffix}")
