"""The monitoring plugin's state in one process: configuration, bus, registry, concerns.

One :class:`Runtime` per process and ``robutler serve`` run, made on first use by
:meth:`Runtime.of`. Everything a concern keeps between hooks lives on the concern
instance (typed attributes); what concerns share lives here, typed, never under
string keys.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, TypeVar

from ..events import EventBus, HealthHandler, Operation, default_bus
from ..host.settings import ServeSettings, Slot
from .concerns import Concern, Endpoint, concern_types
from .config.runtime import get_config

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from ..api.health import HealthCheck
    from .config.schema import MonitoringConfig

C = TypeVar("C", bound=Concern)

#: this plugin's runtime, kept on the settings of the run (the host's typed slots)
_RUNTIME: Slot[Runtime] = Slot("monitoring.runtime")


class Runtime:
    """What the monitoring plugin knows in this process, handed to every concern.

    >>> from robutler_monitoring.host.settings import ServeSettings
    >>> from robutler_monitoring.plugin.config.schema import MonitoringConfig
    >>> rt = Runtime(ServeSettings(), MonitoringConfig(enabled=False), bus=EventBus())
    >>> rt.concerns
    ()
    """

    def __init__(
        self,
        settings: ServeSettings,
        cfg: MonitoringConfig,
        *,
        bus: EventBus | None = None,
        registry: CollectorRegistry | None = None,
        concerns: Sequence[str | type[Concern]] | None = None,
    ) -> None:
        self.settings = settings
        self.cfg = cfg
        #: producers publish to the process-wide bus unless a test injects another
        self.bus = bus if bus is not None else default_bus()
        self._registry = registry
        enabled: tuple[Concern, ...] = ()
        if cfg.enabled:
            enabled = tuple(c for c in (t() for t in concern_types(concerns)) if c.enabled(cfg))
        #: the enabled concerns, in list order
        self.concerns = enabled
        #: every concern's endpoints, collected before ``wrap`` (the HTTP concern serves them)
        self.endpoints: list[Endpoint] = []
        #: every concern's extra health components, collected before ``endpoints``
        self.health_checks: list[HealthCheck] = []
        self._unsubscribe: list[Callable[[], None]] = []

    @classmethod
    def of(cls, settings: ServeSettings) -> Runtime:
        """The runtime of this process for ``settings`` (made on first use; bad config: UsageError)."""
        found = _RUNTIME.get(settings)
        if found is not None:
            return found
        return _RUNTIME.set(settings, cls(settings, get_config(settings)))

    @property
    def registry(self) -> CollectorRegistry:
        """The metrics registry (prometheus_client's default unless injected)."""
        if self._registry is None:
            from .metrics.registry import default_registry

            self._registry = default_registry()
        return self._registry

    @property
    def auth_token(self) -> str | None:
        """The bearer token protecting non-public endpoints, if configured."""
        token = self.cfg.auth_token
        return token.get_secret_value() if token else None

    def concern(self, kind: type[C]) -> C | None:
        """The enabled concern of class ``kind``, or None when it is off."""
        for concern in self.concerns:
            if isinstance(concern, kind):
                return concern
        return None

    def subscribe(
        self,
        kind: str | type[Operation],
        *,
        on_start: Callable[[Operation], None] | None = None,
        on_end: Callable[[Operation], None] | None = None,
    ) -> None:
        """Subscribe on :attr:`bus` until this runtime closes (see ``EventBus.subscribe``)."""
        self._unsubscribe.append(self.bus.subscribe(kind, on_start=on_start, on_end=on_end))

    def subscribe_health(self, handler: HealthHandler) -> None:
        """Subscribe to health changes until this runtime closes."""
        self._unsubscribe.append(self.bus.subscribe_health(handler))

    def close(self) -> None:
        """Drop every subscription made through this runtime (at shutdown)."""
        while self._unsubscribe:
            self._unsubscribe.pop()()
