"""The name of each budget: its ``budget`` label on metrics and alerts, and its rules' suffix.

A budget's ``name`` when set; else made from its agent and model (``*`` is left out,
both ``*`` is ``all``), with characters other than letters, digits, ``_``, ``.`` and
``-`` turned into ``_``. Two budgets with one name are refused at config load.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ..config.schema import BudgetConfig

__all__ = ["budget_limit", "budget_name", "budget_names", "budget_unit"]

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def budget_name(budget: BudgetConfig) -> str:
    """``name``, else ``agent_model`` without the ``*`` parts.

    >>> budget_name(BudgetConfig(agent="support", model="openai/gpt-4o", daily_usd=5))
    'support_openai_gpt-4o'
    >>> budget_name(BudgetConfig(daily_tokens=1000))
    'all'
    """
    if budget.name:
        return budget.name
    parts = [_UNSAFE.sub("_", p) for p in (budget.agent, budget.model) if p != "*"]
    return "_".join(parts) or "all"


def budget_names(budgets: Sequence[BudgetConfig]) -> tuple[str, ...]:
    """The name of each budget, in order; ValueError when two share one."""
    names = tuple(budget_name(b) for b in budgets)
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"usage.budgets: two budgets are named {dupes[0]!r}; give one a distinct `name`")
    return names


def budget_unit(budget: BudgetConfig) -> str:
    """``usd`` or ``tokens``."""
    return "usd" if budget.daily_usd is not None else "tokens"


def budget_limit(budget: BudgetConfig) -> float:
    """The daily limit in the budget's unit."""
    return float(budget.daily_usd if budget.daily_usd is not None else budget.daily_tokens or 0)
