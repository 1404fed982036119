"""CredentialsToolProvider: every credential type of the Alibaba Cloud Credentials tool, behind our provider contract.

The tool (``alibabacloud_credentials``) talks to the sources: STS AssumeRole and AssumeRoleWithOIDC, the ECS
instance metadata service (IMDSv2 tokens, v1 fallback), a credentials URI, profile files. This module adapts it
to :class:`~credentials.refreshing.RefreshingProvider`: one immutable :class:`Credentials` with its real expiry,
refreshed ahead of expiry (advisory and mandatory windows), single-flight forced ``refresh(stale=...)``.

What the adapter does differently from using the tool directly, and why:

* Caching is ours, by the real ``Expiration``. The tool re-fetches on *every* ``get_credentials()`` when a
  session lives 15 minutes or less; we ask the tool only when our windows say so.
* Every fetch asks a *new* tool provider instance. The tool has no public force-refresh and would hand back
  its cached key after the service rejected it; a fresh instance always goes to the source. How often that
  happens is bounded by RefreshingProvider (single flight, backoff after fetches that bring nothing new).
* Environment variables are read when the provider is constructed (the tool reads them once, at import).
* The tool's ECS metadata provider is built without its background scheduler thread, and can be pointed at
  another metadata host (``Config(host=...)`` or ``$ALIBABA_CLOUD_IMDS_ENDPOINT``); STS can be pointed at another
  endpoint with ``Config(sts_endpoint=...)`` or ``$ALIBABA_CLOUD_STS_ENDPOINT`` (the tool always uses https).
* Logging: importing the tool attaches three bare StreamHandlers to the logger named ``credentials`` (every line
  printed three times). They are removed at first use, so the tool's records reach the application's handlers
  once, through propagation; secrets in them are masked; and the records the tool emits during one of our
  fetches are dropped, since our layer reports that fetch's outcome itself (logger
  ``managed_credentials.credentials``, which is not a child of ``credentials``).

The tool is imported on first construction only: ``import credentials`` stays cheap.

``CredentialsToolProvider(provider=...)`` wraps a provider object of the tool that the application built itself
(CLIProfile with a named profile, External process, CloudSSO, ..., or a Client): the same caching, windows and
single flight, around that one object (wrapped.py says what differs).

The parts, in this folder: config.py (the Config's fields, validated), sources.py (the sources: the one a Config
names, or the default chain), wrapped.py (a provider object given as provider=), logs.py (taming the tool's
logging; redaction), errors.py (the fetch's error), _compat.py (the reaches into the tool's private parts).
"""

import logging
import os
from typing import Any, Dict, List, Mapping, Optional, Tuple

from ..errors import ConfigError
from ..fetch_outcome import INF
from ..masking import hiding, redact_exception
from ..model import Fetched, mask
from ..refreshing import RefreshingProvider
from .config import _spec_of
from .errors import _fetch_error
from .logs import _quiet_tool, _tool
from .sources import _Source, default_chain, explicit_source
from .wrapped import TOKEN_RECHECK_SECONDS, is_tool_object, snapshot, wrapped_source

logger = logging.getLogger("managed_credentials.credentials")


class CredentialsToolProvider(RefreshingProvider):
    """Credentials from the Alibaba Cloud Credentials tool, cached by real expiry and refreshed ahead of it.

        CredentialsToolProvider()                                    # the default chain
        CredentialsToolProvider(Config(type="ram_role_arn", access_key_id=..., access_key_secret=...,
                                       role_arn="acs:ram::123:role/app", role_session_name="app"))
        CredentialsToolProvider({"type": "ecs_ram_role", "role_name": "app"})   # a dict of Config fields
        CredentialsToolProvider(provider=CLIProfileCredentialsProvider(profile_name="prod"))  # a tool provider

    ``config``: an ``alibabacloud_credentials.models.Config``, a mapping of its field names, or None for the
    default chain (environment variables, OIDC variables, ``~/.aliyun/config.json`` (``ALIBABA_CLOUD_PROFILE``),
    ``~/.alibabacloud/credentials.ini``, ECS instance metadata, ``ALIBABA_CLOUD_CREDENTIALS_URI``, in that order;
    the first source that answers is used from then on). Missing or contradictory fields raise ConfigError
    naming the field; nothing is fetched until the first ``get_credentials()``.

    ``provider``: instead of ``config``, a provider object of the tool (anything of
    ``alibabacloud_credentials.provider`` with ``get_credentials()``, or an ``alibabacloud_credentials.client.Client``),
    asked for its key when our windows say so (wrapped.py: what that object's own cache changes).
    """

    kind = "credentials_tool"

    def __init__(
        self,
        config: Any = None,
        *,
        provider: Any = None,
        name: Optional[str] = None,
        environ: Optional[Mapping[str, str]] = None,
        **kwargs: Any,
    ) -> None:
        """``config``: see the class. ``name``: what messages call it (default: the credential type).
        ``environ``: the environment the default chain reads (default: ``os.environ``). Other keywords are
        RefreshingProvider's (clock, backoff, background)."""
        env = dict(os.environ if environ is None else environ)
        self._recheck_tokens = provider is not None
        if provider is not None:
            if config is not None:
                raise ConfigError(
                    "give either config (the Config of a source to build) or provider (a provider object of the "
                    "Credentials tool), not both",
                    key="provider",
                )
            self.credentials_type = "provider"
            self._sources = [wrapped_source(provider)]
        elif is_tool_object(config):
            raise ConfigError(
                f"{type(config).__name__} is a provider object, not a Config: pass it as "
                f"CredentialsToolProvider(provider=...)",
                key="config",
            )
        elif config is None:
            self.credentials_type = "default"
            self._sources = default_chain(env)
        else:
            spec = _spec_of(config)
            self.credentials_type = spec["type"]
            self._sources = [explicit_source(spec, env)]
        self._winner: Optional[_Source] = None
        default_name = self._sources[0].label if provider is not None else self.credentials_type
        super().__init__(name=name or f"credentials tool ({default_name})", **kwargs)
        _tool()  # import the tool now: a broken installation fails at construction, not at the first call

    @property
    def source(self) -> Optional[str]:
        """Which source answered last (for the default chain: the one it settled on), or None before a fetch."""
        winner = self._winner
        return winner.label if winner is not None else None

    def _fetch(self) -> Fetched:
        sources = [self._winner] if self._winner is not None else self._sources
        failures: List[Tuple[str, BaseException]] = []
        for source in sources:
            try:
                with _quiet_tool(), hiding(source.secrets):
                    credentials = snapshot(source.build().get_credentials())
            except Exception as exc:  # noqa: BLE001 - each source's failure is reported together below
                failures.append((source.label, redact_exception(exc, source.secrets)))
                continue
            if self._winner is None and len(self._sources) > 1:
                logger.info("%s: using %s", self.name, source.label)
            self._winner = source
            logger.debug("%s: fetched %s from %s", self.name, mask(credentials.access_key_id), source.label)
            if self._recheck_tokens and credentials.security_token and credentials.expiration is None:
                return Fetched(credentials, self._clock() + TOKEN_RECHECK_SECONDS)  # wrapped.py: the tool dropped it
            return Fetched(credentials, INF)  # RefreshingProvider derives the windows from credentials.expiration
        raise _fetch_error(self.name, failures, tried_all=len(sources) > 1 or not self._sources)

    def status(self) -> Dict[str, Any]:
        """RefreshingProvider's, with ``credentials_type`` and ``source`` (which source answered last)."""
        fields = super().status()
        fields["credentials_type"] = self.credentials_type
        fields["source"] = self.source
        return fields

    def __repr__(self) -> str:
        where = self.source or ", ".join(s.label for s in self._sources) or "no source"
        return f"CredentialsToolProvider(type={self.credentials_type!r}, source={where!r})"
