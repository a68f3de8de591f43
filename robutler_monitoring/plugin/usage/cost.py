"""What an LLM call cost: prices from ``genai-prices``, overridable per model in the config.

``genai-prices`` (pydantic's maintained price table, one snapshot bundled in each
release) is read offline: its bundled data only, never its auto-updater. Pricing a
call takes a few hundred microseconds there, so it runs in the usage writer thread,
never in the request path.

Token conventions (OpenTelemetry GenAI, and genai-prices'): ``input_tokens`` includes
cache reads and cache writes; ``output_tokens`` includes reasoning tokens. Cached tokens
are priced at their own rate, once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any

__all__ = ["GENAI_PRICES", "OVERRIDE", "ModelPrice", "Priced", "Pricer", "TokenCounts"]

GENAI_PRICES = "genai-prices"  #: price source: the maintained library's bundled table
OVERRIDE = "config"  #: price source: ``monitoring.usage.prices`` in the config
_MILLION = Decimal(1_000_000)


@dataclass(frozen=True, slots=True)
class TokenCounts:
    """Token counts of one LLM call (None: not reported)."""

    input: int = 0  #: includes cache reads and writes
    output: int = 0  #: includes reasoning
    cache_read: int = 0
    cache_write: int = 0


@dataclass(frozen=True, slots=True)
class ModelPrice:
    """A model's price in USD per million tokens (cache prices default to the input price)."""

    input: Decimal
    output: Decimal
    cache_read: Decimal | None = None
    cache_write: Decimal | None = None

    def cost(self, tokens: TokenCounts) -> Decimal:
        """USD for ``tokens`` at this price."""
        read = min(tokens.cache_read, tokens.input)
        write = min(tokens.cache_write, tokens.input - read)
        uncached = tokens.input - read - write
        total = (
            uncached * self.input
            + read * (self.input if self.cache_read is None else self.cache_read)
            + write * (self.input if self.cache_write is None else self.cache_write)
            + tokens.output * self.output
        )
        return total / _MILLION


@dataclass(frozen=True, slots=True)
class Priced:
    """The cost of one call; ``cost_usd`` None: no price known for the model (unpriced)."""

    cost_usd: float | None
    source: str | None  #: genai-prices | config | None when unpriced
    version: str | None  #: the library's version (its price snapshot), or None
    priced_model: str | None = None  #: the model id the price was found under


class Pricer:
    """Prices LLM calls: a config override for the model wins, else genai-prices, else unpriced.

    >>> from decimal import Decimal
    >>> pricer = Pricer({"my-model": ModelPrice(Decimal(1), Decimal(2))}, library=False)
    >>> pricer.price("my-model", TokenCounts(input=1_000_000, output=500_000)).cost_usd
    2.0
    >>> pricer.price("unknown", TokenCounts(input=10)).cost_usd is None
    True
    """

    def __init__(self, overrides: Mapping[str, ModelPrice] | None = None, *, library: bool = True) -> None:
        self._overrides = {name.lower(): price for name, price in (overrides or {}).items()}
        self._library = library
        self._find = lru_cache(maxsize=1024)(self._find_uncached)

    @property
    def library_version(self) -> str | None:
        """The genai-prices version in use (None when it is off or missing)."""
        return _library_version() if self._library else None

    def price(self, model: str, tokens: TokenCounts, *, provider: str | None = None) -> Priced:
        """The cost of ``tokens`` on ``model`` (the requested model name)."""
        override = self._overrides.get(model.lower())
        if override is not None:
            return Priced(float(override.cost(tokens)), OVERRIDE, None, model)
        if not self._library:
            return Priced(None, None, None)
        found = self._find(model, provider)
        if found is None:
            return Priced(None, None, None)
        return Priced(float(found.cost(tokens)), GENAI_PRICES, _library_version(), found.model_id)

    def _find_uncached(self, model: str, provider: str | None) -> _LibraryPrice | None:
        version = _library_version()
        if version is None:
            return None
        from genai_prices.data_snapshot import get_snapshot

        snapshot = get_snapshot()
        candidates: list[tuple[str, str | None]] = []
        if provider:
            candidates.append((model, provider))
        if "/" in model:  # litellm's "openai/gpt-4o", "anthropic/claude-..."
            prefix, rest = model.split("/", 1)
            candidates.append((rest, prefix))
            candidates.append((rest, None))
        candidates.append((model, None))
        for ref, provider_id in candidates:
            try:
                provider_info, info = snapshot.find_provider_model(ref, None, provider_id, None)
            except LookupError:
                continue
            return _LibraryPrice.of(info, provider_info)
        return None


@dataclass(frozen=True, slots=True)
class _LibraryPrice:
    """A model's token prices read once from genai-prices (a rate, or a tiered rate, per million).

    Computed here rather than by ``calc_price`` (about 0.3 ms a call: it validates its unit
    registry each time) with the library's rules: a tier applies to every token once the
    call's input tokens pass its start; cache tokens without a price of their own pay the
    input rate.
    """

    model_id: str
    input: Any
    output: Any
    cache_read: Any
    cache_write: Any

    @classmethod
    def of(cls, info: Any, provider: Any) -> _LibraryPrice:
        from datetime import UTC, datetime

        prices = info.get_prices(datetime.now(UTC))
        return cls(
            str(info.id),
            prices.input_mtok,
            prices.output_mtok,
            prices.cache_read_mtok,
            prices.cache_write_mtok,
        )

    def cost(self, tokens: TokenCounts) -> Decimal:
        total_input = tokens.input
        input_rate = _rate(self.input, total_input)
        read = min(tokens.cache_read, tokens.input)
        write = min(tokens.cache_write, tokens.input - read)
        read_rate = input_rate if self.cache_read is None else _rate(self.cache_read, total_input)
        write_rate = input_rate if self.cache_write is None else _rate(self.cache_write, total_input)
        return (
            (tokens.input - read - write) * input_rate
            + read * read_rate
            + write * write_rate
            + tokens.output * _rate(self.output, total_input)
        ) / _MILLION


def _rate(price: Any, total_input: int) -> Decimal:
    if price is None:
        return Decimal(0)
    tiers = getattr(price, "tiers", None)
    if tiers is None:
        return Decimal(price)
    for tier in reversed(tiers):
        if total_input > tier.start:
            return Decimal(tier.price)
    return Decimal(price.base)


@lru_cache(maxsize=1)
def _library_version() -> str | None:
    try:
        import genai_prices
    except ImportError:  # pragma: no cover - a declared dependency
        return None
    return str(genai_prices.__version__)
