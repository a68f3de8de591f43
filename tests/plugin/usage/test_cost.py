"""Cost fixtures: each expected value is a hand computation from the published price per million tokens."""

from __future__ import annotations

from decimal import Decimal

import pytest

from robutler_monitoring.plugin.usage.cost import GENAI_PRICES, OVERRIDE, ModelPrice, Pricer, TokenCounts

OVERRIDES = {
    "my-llm": ModelPrice(Decimal(1), Decimal(2), cache_read=Decimal("0.5")),
    "gpt-4o": ModelPrice(Decimal(10), Decimal(20)),  # wins over the library's $2.50 / $10
    "no-cache-prices": ModelPrice(Decimal(1), Decimal(3)),
}

# (model, tokens, expected USD, how it was worked out)
FIXTURES = [
    ("gpt-4o-mini", TokenCounts(input=10_000, output=2_000), 0.0027, "10000*0.15 + 2000*0.60"),
    (
        "gpt-4o-mini",
        TokenCounts(input=1_000, output=1_000, cache_read=1_000),
        0.000675,
        "1000*0.075 + 1000*0.60",
    ),
    (
        "o3-mini",
        TokenCounts(input=1_000, output=3_000),
        0.0143,
        "1000*1.10 + 3000*4.40 (2500 reasoning inside)",
    ),
    (
        "claude-sonnet-4-5",
        TokenCounts(input=1_000, output=200, cache_read=300, cache_write=400),
        0.00549,
        "300*3 + 300*0.30 + 400*3.75 + 200*15",
    ),
    (
        "claude-sonnet-4-5",
        TokenCounts(input=250_000, output=1_000),
        1.5225,
        "tier > 200K: 250000*6 + 1000*22.50",
    ),
    ("claude-sonnet-4-5", TokenCounts(input=150_000, output=1_000), 0.465, "base tier: 150000*3 + 1000*15"),
    ("gemini-2.5-pro", TokenCounts(input=1_000, output=1_000), 0.01125, "1000*1.25 + 1000*10"),
    ("gemini-2.5-pro", TokenCounts(input=300_000, output=2_000), 0.78, "tier > 200K: 300000*2.50 + 2000*15"),
    (
        "openai/gpt-4o-mini",
        TokenCounts(input=1_000, output=1_000),
        0.00075,
        "litellm prefix: 1000*0.15 + 1000*0.60",
    ),
    ("GPT-4O-MINI", TokenCounts(input=1_000_000), 0.15, "names are case-insensitive: 1M*0.15"),
    ("gpt-4o-mini", TokenCounts(), 0.0, "no tokens, no cost (priced, not unpriced)"),
]

OVERRIDE_FIXTURES = [
    (
        "my-llm",
        TokenCounts(input=1_000_000, output=100_000, cache_read=400_000),
        1.0,
        "600000*1 + 400000*0.5 + 100000*2",
    ),
    ("gpt-4o", TokenCounts(input=1_000, output=500), 0.02, "override: 1000*10 + 500*20"),
    (
        "no-cache-prices",
        TokenCounts(input=1_000, output=0, cache_write=500),
        0.001,
        "cache write at input: 1000*1",
    ),
]


@pytest.mark.parametrize(("model", "tokens", "expected", "why"), FIXTURES)
def test_library_prices_match_hand_computation(
    model: str, tokens: TokenCounts, expected: float, why: str
) -> None:
    priced = Pricer().price(model, tokens)
    assert priced.cost_usd == pytest.approx(expected, rel=1e-12), why
    assert priced.source == GENAI_PRICES
    assert priced.version is not None and priced.version.startswith("0.2")


@pytest.mark.parametrize(("model", "tokens", "expected", "why"), OVERRIDE_FIXTURES)
def test_config_overrides_win(model: str, tokens: TokenCounts, expected: float, why: str) -> None:
    priced = Pricer(OVERRIDES).price(model, tokens)
    assert priced.cost_usd == pytest.approx(expected, rel=1e-12), why
    assert (priced.source, priced.version) == (OVERRIDE, None)


def test_gpt_4o_from_the_library_without_override() -> None:
    # 800 uncached * 2.50 + 200 cached * 1.25 + 500 * 10: cached tokens priced once, at their rate
    priced = Pricer().price("gpt-4o", TokenCounts(input=1_000, output=500, cache_read=200))
    assert priced.cost_usd == pytest.approx(0.00725, rel=1e-12)


def test_unknown_model_is_unpriced_not_free() -> None:
    priced = Pricer(OVERRIDES).price("acme-llm-7", TokenCounts(input=1_000, output=10))
    assert priced.cost_usd is None
    assert priced.source is None


def test_library_off_prices_overrides_only() -> None:
    pricer = Pricer(OVERRIDES, library=False)
    assert pricer.price("gpt-4o-mini", TokenCounts(input=10)).cost_usd is None
    assert pricer.price("my-llm", TokenCounts(input=1_000_000)).cost_usd == pytest.approx(1.0)
    assert pricer.library_version is None


@pytest.mark.parametrize("model", ["gpt-4o", "gpt-4o-mini", "o3-mini", "claude-sonnet-4-5", "gemini-2.5-pro"])
def test_same_cost_as_genai_prices_own_calculation(model: str) -> None:
    from genai_prices import Usage, calc_price

    pricer = Pricer()
    for tokens in (
        TokenCounts(input=1_234, output=567, cache_read=300, cache_write=100),
        TokenCounts(input=250_001, output=4_000, cache_read=50_000),
        TokenCounts(input=200_000, output=1),
        TokenCounts(output=10),
    ):
        usage = Usage(
            input_tokens=tokens.input,
            output_tokens=tokens.output,
            cache_read_tokens=tokens.cache_read,
            cache_write_tokens=tokens.cache_write,
        )
        expected = float(calc_price(usage, model).total_price)
        assert pricer.price(model, tokens).cost_usd == pytest.approx(expected, rel=1e-12), tokens
