"""The calculator tools; each function is one MCP tool, its docstring the description."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from switchboard_example_calculator import expressions, stats, units
from switchboard_example_calculator.models import (
    Conversion,
    Evaluation,
    Summary,
    UnitCatalog,
    UnitCategory,
    UnitInfo,
)

FiniteNumber = Annotated[float, Field(allow_inf_nan=False)]


def evaluate(
    expression: Annotated[
        str,
        Field(
            min_length=1,
            max_length=expressions.MAX_LENGTH,
            description="Arithmetic such as `(2 + 3) * 4 ** 2 / 7` or `sqrt(2) * sin(pi / 4)`.",
        ),
    ],
) -> Evaluation:
    """Evaluate an arithmetic expression safely: it is parsed, never executed as code.

    Supports + - * / // % ** and parentheses, the constants pi, e and tau, and the functions
    abs round min max sqrt cbrt exp log log2 log10 sin cos tan asin acos atan atan2 sinh cosh
    tanh degrees radians hypot floor ceil trunc gcd factorial comb perm. Integers are exact up
    to about 3,000 digits; trigonometry works in radians.
    """
    value = expressions.evaluate(expression)
    return Evaluation(expression=expression, value=value, text=repr(value))


def convert_units(
    value: Annotated[FiniteNumber, Field(description="The quantity to convert.")],
    from_unit: Annotated[
        str, Field(max_length=32, description="Unit of `value`: a symbol or name, e.g. `mi`.")
    ],
    to_unit: Annotated[
        str, Field(max_length=32, description="Unit wanted, e.g. `km` or `kilometres`.")
    ],
) -> Conversion:
    """Convert a length, mass, temperature or data size between units.

    Data sizes distinguish decimal (kB, MB, GB) from binary (KiB, MiB, GiB) units and bytes
    (B) from bits (bit, Mbit). Call `list_units` for every accepted unit.
    """
    source, target = units.find_unit(from_unit), units.find_unit(to_unit)
    result = units.convert(value, source, target)
    return Conversion(
        category=source.category,
        value=value,
        from_unit=source.symbol,
        to_unit=target.symbol,
        result=result,
        text=f"{value:.15g} {source.symbol} = {result:.15g} {target.symbol}",
    )


def list_units() -> UnitCatalog:
    """List every unit `convert_units` understands, grouped by category."""
    grouped: dict[units.Category, list[UnitInfo]] = {}
    for unit in units.UNITS:
        info = UnitInfo(symbol=unit.symbol, name=unit.name, aliases=list(unit.aliases))
        grouped.setdefault(unit.category, []).append(info)
    return UnitCatalog(
        categories=[UnitCategory(category=c, units=found) for c, found in grouped.items()]
    )


def statistics(
    numbers: Annotated[
        list[FiniteNumber],
        Field(min_length=1, max_length=10_000, description="The data, 1 to 10,000 numbers."),
    ],
) -> Summary:
    """Describe a list of numbers: count, sum, mean, median, modes, spread and quartiles."""
    return stats.summarize(numbers)
