"""Descriptive statistics over a list of finite numbers."""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Sequence

from mcp.server.mcpserver.exceptions import ToolError

from switchboard_example_calculator.models import Summary


def summarize(numbers: Sequence[float]) -> Summary:
    """Summary statistics; sample variance needs two numbers, so it is null for one."""
    if not numbers:
        raise ToolError("`numbers` is empty; give at least one number")
    try:
        summary = _summarize(numbers)
    except OverflowError:
        summary = None
    if summary is None or not all(math.isfinite(v) for v in _floats(summary)):
        raise ToolError("the numbers are too large for floating-point statistics")
    return summary


def _summarize(numbers: Sequence[float]) -> Summary:
    several = len(numbers) > 1
    low, high = min(numbers), max(numbers)
    quartiles = statistics.quantiles(numbers, n=4, method="inclusive") if several else []
    counts = Counter(numbers).most_common()
    top = counts[0][1]
    return Summary(
        count=len(numbers),
        sum=math.fsum(numbers),
        mean=statistics.fmean(numbers),
        median=statistics.median(numbers),
        modes=sorted(v for v, n in counts if n == top) if top > 1 or not several else [],
        minimum=low,
        maximum=high,
        range=high - low,
        q1=quartiles[0] if several else low,
        q3=quartiles[2] if several else low,
        population_variance=statistics.pvariance(numbers),
        population_stdev=statistics.pstdev(numbers),
        sample_variance=statistics.variance(numbers) if several else None,
        sample_stdev=statistics.stdev(numbers) if several else None,
    )


def _floats(summary: Summary) -> list[float]:
    return [v for v in summary.model_dump().values() if isinstance(v, float)]
