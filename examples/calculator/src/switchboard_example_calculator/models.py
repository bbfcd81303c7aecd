"""What the calculator tools return; field descriptions become each tool's output schema."""

from __future__ import annotations

from pydantic import BaseModel, Field

from switchboard_example_calculator.units import Category


class Evaluation(BaseModel):
    """The value of an arithmetic expression."""

    expression: str = Field(description="The expression as given.")
    value: int | float = Field(description="The result; integers stay exact.")
    text: str = Field(description="The result as exact decimal text (safe for huge integers).")


class Conversion(BaseModel):
    """A quantity converted from one unit to another."""

    category: Category
    value: float = Field(description="The quantity as given.")
    from_unit: str = Field(description="Symbol of the unit converted from.")
    to_unit: str = Field(description="Symbol of the unit converted to.")
    result: float = Field(description="The quantity in `to_unit`.")
    text: str = Field(description="The conversion as text, e.g. `1 mi = 1.609344 km`.")


class UnitInfo(BaseModel):
    symbol: str = Field(description="Canonical symbol, e.g. `MiB`.")
    name: str = Field(description="Name; singular and plural both work, e.g. `mebibytes`.")
    aliases: list[str] = Field(description="Other accepted spellings.")


class UnitCategory(BaseModel):
    category: Category
    units: list[UnitInfo]


class UnitCatalog(BaseModel):
    """Every unit `convert_units` accepts, by category; convert only within a category."""

    categories: list[UnitCategory]


class Summary(BaseModel):
    """Descriptive statistics of a list of numbers."""

    count: int
    sum: float
    mean: float
    median: float
    modes: list[float] = Field(
        description="Most frequent values, all of them on a tie; empty when no value repeats."
    )
    minimum: float
    maximum: float
    range: float = Field(description="Maximum minus minimum.")
    q1: float = Field(description="First quartile (inclusive method).")
    q3: float = Field(description="Third quartile (inclusive method).")
    population_variance: float
    population_stdev: float
    sample_variance: float | None = Field(description="Sample variance; null for one number.")
    sample_stdev: float | None = Field(description="Sample standard deviation; null for one.")
