"""The one refresh-and-re-issue rule shared by every proxy client (httpx's auth flow, with tenacity).

The first attempt runs bare, so a call that succeeds pays nothing. When it
fails with an expired-key error, each further attempt refreshes the provider
(single-flight: one fetch for all threads that saw the same stale key) and
re-issues the same request, signed anew. A refresh that brings back the very
key that just failed is not worth a request: the attempt fails at once and
tenacity waits a short jittered time before the next. After ``max_refreshes``
the SDK's own exception is raised; any other error is raised at once. When the
re-issue is given up because the refresh failed (or brought back the rejected
key), that exception's str() ends with why, and its __cause__ is the
CredentialsError (notes.py).

What an operator sees: for the length of a call the context variable
``credentials.masking.ATTEMPT`` holds this Reissuer's ``judge_record``, so the SDKs'
own records of a rejected attempt are lowered to DEBUG (credentials/masking/reissued.py);
the end of a re-issue is counted and said in at most one line (outcomes.py).

tenacity is imported when a re-issue fails again, not at import nor at the first re-issue: a client whose calls
succeed, or heal at the first re-issue as in a rotation, never needs it, and importing it costs a process several
milliseconds (on the slowest call of the rotation, had the first re-issue loaded it).
"""

import logging
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Dict, Optional

from credentials import CredentialsError, CredentialsProvider
from credentials.masking import ATTEMPT, redact_exception
from credentials.model import Credentials, mask

from . import outcomes
from .bodies import why_not_replayable
from .handlers import AKExpireHandler
from .notes import explain, explain_same_key, no_new_key, note_of, refresh_failed_note

if TYPE_CHECKING:
    import tenacity

logger = logging.getLogger("managed_credentials.proxy")

MAX_REFRESHES = 2
SAME_KEY_WAIT_RANGE = (0.05, 0.25)  # seconds: the wait after a refresh returned the rejected key


class _Call:
    """One call's re-issue state (never stored on a shared object)."""

    __slots__ = ("error", "stale", "rewind", "same_key", "final", "rejected", "fresh", "outcome", "why")

    def __init__(self, error: BaseException, stale: Optional[Credentials], rewind: Optional[Callable[[], bool]]):
        self.error = error  # the SDK exception of the latest failed attempt
        self.stale = stale  # the key that signed it
        self.rewind = rewind
        self.same_key = False
        self.final = False  # the body cannot be re-sent: stop with the original error
        self.rejected = stale  # the key the service rejected first
        self.fresh: Optional[Credentials] = None  # the key the latest re-issue was sent with
        self.outcome = outcomes.FAILED  # how it ends when it raises: FAILED, or NOT_REPLAYABLE
        self.why = ""  # why the key could not be replaced, when it could not


class Reissuer:
    def __init__(
        self,
        provider: CredentialsProvider,
        handler: AKExpireHandler,
        signed_with: Callable[[], Optional[Credentials]],
        *,
        max_refreshes: int = MAX_REFRESHES,
        same_key_wait: "Optional[tenacity.wait.wait_base]" = None,
        sdk: str = "other",
        record_error: Optional[Callable[[logging.LogRecord], Optional[BaseException]]] = None,
    ):
        """``sdk``: the metric's ``sdk`` attribute. ``record_error``: the SDK error a log record of the SDK reports
        (aliyunsdkcore logs its ServerException as text), so that ``judge_record`` can lower it; records carrying
        ``exc_info`` are judged by that without it."""
        self.provider = provider
        self.handler = handler
        self.signed_with = signed_with
        self.max_refreshes = max_refreshes
        self.sdk = sdk
        self._record_error = record_error
        self.judge_record = self._judge_record  # one bound method, set as ATTEMPT for the length of every call
        self._same_key_wait = same_key_wait
        self._retrying_object: "Optional[tenacity.Retrying]" = None

    @property
    def _retrying(self) -> "tenacity.Retrying":
        """Built at the first re-issue (threads racing here build equal objects; one is kept)."""
        retrying = self._retrying_object
        if retrying is None:
            import tenacity

            retrying = self._retrying_object = tenacity.Retrying(**self._retry_rule(tenacity))
        return retrying

    def _retry_rule(self, tenacity: Any) -> Dict[str, Any]:
        if self._same_key_wait is None:
            self._same_key_wait = tenacity.wait_random(*SAME_KEY_WAIT_RANGE)
        return dict(
            retry=self._should_reissue,
            stop=tenacity.stop_after_attempt(self.max_refreshes),
            wait=self._wait,
            reraise=True,
        )

    def is_expired_key_error(self, exc: BaseException) -> bool:
        """The handler's verdict; a handler that itself fails counts as "no" (never hide the SDK error)."""
        try:
            return bool(self.handler.judge_ak_expire(exc))
        except Exception:  # noqa: BLE001 - a user handler's bug must not replace the SDK error
            logger.exception("ak_expire_handler %r failed while judging %s", self.handler, type(exc).__name__)
            return False

    def _judge_record(self, record: logging.LogRecord) -> bool:
        """Whether an SDK log record, logged during one of this Reissuer's calls, reports an error it re-issues
        for (credentials/masking/reissued.py lowers it to DEBUG)."""
        error = record.exc_info[1] if record.exc_info else None
        if error is None and self._record_error is not None:
            error = self._record_error(record)
        return error is not None and self.is_expired_key_error(error)

    def call(self, attempt: Callable[[], Any], rewind: Optional[Callable[[], bool]] = None) -> Any:
        """Run ``attempt`` (which raises the SDK exception on failure), re-issuing it on expired keys."""
        token = ATTEMPT.set(self.judge_record)
        try:
            return attempt()
        except Exception as exc:
            if not self.is_expired_key_error(exc):
                redact_exception(exc)  # no token or signature in the text of what the caller gets
                raise
            return self.reissue(exc, attempt, rewind)
        finally:
            ATTEMPT.reset(token)

    def reissue(
        self, error: BaseException, attempt: Callable[[], Any], rewind: Optional[Callable[[], bool]] = None
    ) -> Any:
        """``attempt`` already failed with ``error``, an expired key: refresh and try again, bounded. (A caller
        that ran the first attempt itself sets ``ATTEMPT`` to ``judge_record`` around it and this.)"""
        state = _Call(error=error, stale=self.signed_with(), rewind=rewind)
        try:
            result = self._first_reissue(state, attempt)
        except Exception as exc:
            self._given_up(state, exc)
            redact_exception(exc)
            raise
        self._healed(state)
        return result

    def _first_reissue(self, state: _Call, attempt: Callable[[], Any]) -> Any:
        """The first re-issue, which waits for nothing, made without tenacity (a rotation never loads it); tenacity
        takes over, with that attempt as its own first, only when it fails again."""
        try:
            return self._refresh_and_reissue(state, attempt)
        except Exception as exc:
            if state.final:  # tenacity's rule would stop here (_should_reissue)
                raise
            first = [exc]

        def again(state: _Call, attempt: Callable[[], Any]) -> Any:
            if first:
                raise first.pop()  # tenacity's first attempt is the one made above
            return self._refresh_and_reissue(state, attempt)

        return self._retrying(again, state, attempt)

    async def call_async(
        self, attempt: Callable[[], Awaitable[Any]], rewind: Optional[Callable[[], bool]] = None
    ) -> Any:
        """``call`` for coroutines (tea-openapi's ``*_async`` methods): the same rule; the refresh, which may
        wait for KMS, runs in a worker thread so that the event loop is never blocked."""
        token = ATTEMPT.set(self.judge_record)  # a context variable: this task's, across its awaits
        try:
            try:
                return await attempt()
            except Exception as exc:
                if not self.is_expired_key_error(exc):
                    redact_exception(exc)
                    raise
                error = exc
            import tenacity

            state = _Call(error=error, stale=self.signed_with(), rewind=rewind)
            try:
                result: Any = await tenacity.AsyncRetrying(**self._retry_rule(tenacity))(
                    self._refresh_and_reissue_async, state, attempt
                )
            except Exception as exc:
                self._given_up(state, exc)
                redact_exception(exc)
                raise
            self._healed(state)
            return result
        finally:
            ATTEMPT.reset(token)

    def _healed(self, state: _Call) -> None:
        if state.fresh is not None:
            outcomes.healed(self.provider, self.sdk, state.rejected, state.fresh, outcomes.describe(state.error))

    def _given_up(self, state: _Call, exc: BaseException) -> None:
        """Counted and said once (outcomes.py): not re-sent (its WARNING is _ready_to_resend's), or the key could
        not be healed. A re-issued call that failed for another reason than its key was healed."""
        if state.outcome == outcomes.NOT_REPLAYABLE:
            outcomes.not_replayable(self.provider, self.sdk)
        elif self.is_expired_key_error(exc):
            why = state.why or f"key {mask(_key_id(state.stale))}, fetched to replace it, was rejected too"
            outcomes.heal_failed(self.provider, self.sdk, state.rejected, outcomes.describe(exc), why, note_of(exc))
        else:
            self._healed(state)

    def _refresh_and_reissue(self, state: _Call, attempt: Callable[[], Any]) -> Any:
        self._ready_to_resend(state, self._refresh(state))
        return self._attempt(state, attempt)

    async def _refresh_and_reissue_async(self, state: _Call, attempt: Callable[[], Awaitable[Any]]) -> Any:
        import asyncio

        fresh = await asyncio.get_running_loop().run_in_executor(None, self._refresh, state)
        self._ready_to_resend(state, fresh)
        try:
            return await attempt()
        except Exception as exc:
            state.error = exc
            state.stale = self.signed_with()
            raise

    def _refresh(self, state: _Call) -> Credentials:
        """A key to re-issue with (single-flight: one fetch for every caller that saw ``state.stale``)."""
        try:
            return self.provider.refresh(stale=state.stale)
        except CredentialsError as exc:  # said once by _given_up; the SDK error says it to the caller
            logger.debug(
                "key %s was rejected and no new key could be fetched (%s): not re-sent", mask(_key_id(state.stale)), exc
            )
            state.why = no_new_key(exc)
            state.final = True
            raise explain(state.error, refresh_failed_note(self.provider, exc), exc) from exc

    def _ready_to_resend(self, state: _Call, fresh: Credentials) -> None:
        """Raise the SDK error instead when re-sending cannot help or could harm."""
        state.same_key = fresh == state.stale
        if state.same_key:
            self._log_same_key(fresh)
            state.why = explain_same_key(self.provider, state.error, state.stale)
            raise state.error
        if state.rewind is not None and not state.rewind():
            state.outcome = outcomes.NOT_REPLAYABLE
            logger.warning(
                "key %s was rejected and the request body cannot be sent again (%s): raising the error; "
                "the next call uses key %s",
                mask(_key_id(state.stale)),
                why_not_replayable(state.rewind),
                mask(fresh.access_key_id),
            )
            state.final = True
            raise state.error
        state.fresh = fresh
        logger.debug(  # the rotation's one line is outcomes.healed's
            "key %s was rejected (%s); re-issuing with key %s",
            mask(_key_id(state.stale)),
            outcomes.describe(state.error),
            mask(fresh.access_key_id),
        )

    def _log_same_key(self, fresh: Credentials) -> None:
        """Why the rejected key came back, as it is: the provider's latest fetch failed and it kept that key (or is
        backing off after that failure), or a fetch brought the very same key."""
        last_error = getattr(self.provider, "last_error", None)
        cause = last_error() if callable(last_error) else None
        if cause is not None:
            logger.debug(
                "key %s was rejected and no new key could be fetched (%s): not re-sent",
                mask(fresh.access_key_id),
                cause,
            )
        else:
            logger.debug("refresh returned the rejected key %s again: not re-sent", mask(fresh.access_key_id))

    def _attempt(self, state: _Call, attempt: Callable[[], Any]) -> Any:
        try:
            return attempt()
        except Exception as exc:
            state.error = exc
            state.stale = self.signed_with()
            raise

    def _should_reissue(self, retry_state: "tenacity.RetryCallState") -> bool:
        state: _Call = retry_state.args[0]
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        if exc is None or state.final:
            return False
        keep_going = self.is_expired_key_error(exc)
        if keep_going and not state.same_key:  # a same-key attempt sent nothing: _log_same_key said why
            logger.debug(
                "attempt %d/%d failed with an expired key", retry_state.attempt_number + 1, self.max_refreshes + 1
            )
        return keep_going

    def _wait(self, retry_state: "tenacity.RetryCallState") -> float:
        state: _Call = retry_state.args[0]
        same_key_wait = self._same_key_wait  # set by _retry_rule before the first wait
        return same_key_wait(retry_state) if state.same_key and same_key_wait is not None else 0.0


def _key_id(credentials: Optional[Credentials]) -> Optional[str]:
    return credentials.access_key_id if credentials is not None else None
