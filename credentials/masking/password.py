"""A client key password held so that nothing prints it.

The password sits in the frames that open a client key while they run; a traceback formatted with its locals
(``traceback`` with ``capture_locals=True``, loguru's ``diagnose``, rich's ``show_locals``), a debugger or a
crash reporter shows every local's repr. Held in this object, it shows as ``Password(****)`` there, and it is
revealed only as the argument of the one call that opens the key.
"""

from typing import NoReturn


class Password:
    """A password whose repr and str are ``Password(****)``; ``encoded()`` gives the bytes that open the key."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def encoded(self) -> bytes:
        return self._value.encode("utf-8")

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return "Password(****)"

    __str__ = __repr__

    def __reduce__(self) -> NoReturn:
        raise TypeError("Password is not picklable")
