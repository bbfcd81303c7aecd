"""Units of length, mass, temperature and data size, and conversion between them.

Every unit is `factor * (value + offset)` of its category's base unit (metre, kilogram,
kelvin, byte); only temperatures have an offset. Factors are exact fractions, so a
conversion is computed exactly and rounded once: 100 °C is 212 °F, not 212.00000000000006.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

from mcp.server.mcpserver.exceptions import ToolError

Category = Literal["length", "mass", "temperature", "data"]


@dataclass(frozen=True)
class Unit:
    symbol: str
    name: str
    category: Category
    factor: Fraction
    offset: Fraction = Fraction(0)
    aliases: tuple[str, ...] = ()

    def to_base(self, value: Fraction) -> Fraction:
        return (value + self.offset) * self.factor

    def from_base(self, value: Fraction) -> Fraction:
        return value / self.factor - self.offset


def _unit(
    symbol: str, name: str, category: Category, factor: str, *aliases: str, offset: str = "0"
) -> Unit:
    """A unit whose factor and offset are decimal or `a/b` strings, read exactly."""
    return Unit(symbol, name, category, Fraction(factor), Fraction(offset), aliases)


def _data(symbol: str, name: str, factor: int | Fraction) -> Unit:
    return Unit(symbol, name, "data", Fraction(factor))


UNITS: tuple[Unit, ...] = (
    _unit("m", "metre", "length", "1", "meter"),
    _unit("km", "kilometre", "length", "1000", "kilometer"),
    _unit("cm", "centimetre", "length", "0.01", "centimeter"),
    _unit("mm", "millimetre", "length", "0.001", "millimeter"),
    _unit("µm", "micrometre", "length", "1e-6", "um", "micrometer", "micron"),
    _unit("nm", "nanometre", "length", "1e-9", "nanometer"),
    _unit("mi", "mile", "length", "1609.344"),
    _unit("yd", "yard", "length", "0.9144"),
    _unit("ft", "foot", "length", "0.3048", "feet"),
    _unit("in", "inch", "length", "0.0254", "inches"),
    _unit("nmi", "nautical mile", "length", "1852"),
    _unit("kg", "kilogram", "mass", "1", "kilo"),
    _unit("g", "gram", "mass", "0.001"),
    _unit("mg", "milligram", "mass", "1e-6"),
    _unit("µg", "microgram", "mass", "1e-9", "ug", "mcg"),
    _unit("t", "tonne", "mass", "1000", "metric ton"),
    _unit("lb", "pound", "mass", "0.45359237", "lbs"),
    _unit("oz", "ounce", "mass", "0.028349523125"),
    _unit("st", "stone", "mass", "6.35029318"),
    _unit("K", "kelvin", "temperature", "1"),
    _unit("°C", "celsius", "temperature", "1", "C", "degC", "centigrade", offset="273.15"),
    _unit("°F", "fahrenheit", "temperature", "5/9", "F", "degF", offset="459.67"),
    _data("bit", "bit", Fraction(1, 8)),
    _data("B", "byte", 1),
    _data("kB", "kilobyte", 10**3),
    _data("MB", "megabyte", 10**6),
    _data("GB", "gigabyte", 10**9),
    _data("TB", "terabyte", 10**12),
    _data("PB", "petabyte", 10**15),
    _data("KiB", "kibibyte", 2**10),
    _data("MiB", "mebibyte", 2**20),
    _data("GiB", "gibibyte", 2**30),
    _data("TiB", "tebibyte", 2**40),
    _data("PiB", "pebibyte", 2**50),
    _data("kbit", "kilobit", Fraction(10**3, 8)),
    _data("Mbit", "megabit", Fraction(10**6, 8)),
    _data("Gbit", "gigabit", Fraction(10**9, 8)),
)


def _index() -> tuple[dict[str, Unit], dict[str, Unit]]:
    """Exact symbols, and lower-cased names, plurals and symbols that stay unambiguous."""
    exact = {unit.symbol: unit for unit in UNITS}
    loose: dict[str, Unit] = {}
    for unit in UNITS:
        for word in (unit.name, *unit.aliases):
            loose[word.lower()] = loose[f"{word.lower()}s"] = unit
    lowered = [unit.symbol.lower() for unit in UNITS]
    for unit in UNITS:
        if lowered.count(unit.symbol.lower()) == 1:
            loose.setdefault(unit.symbol.lower(), unit)
    return exact, loose


_EXACT, _LOOSE = _index()


def find_unit(text: str) -> Unit:
    """The unit a symbol or name means: `MB`, `megabytes`, `°C`, `celsius`, `ft`, `feet`..."""
    key = text.strip()
    unit = _EXACT.get(key) or _LOOSE.get(key.lower())
    if unit is None:
        raise ToolError(f"unknown unit {text!r}; call `list_units` to see the supported ones")
    return unit


def convert(value: float, source: Unit, target: Unit) -> float:
    """`value` in `source` expressed in `target`, computed exactly and rounded once."""
    if source.category != target.category:
        raise ToolError(
            f"cannot convert {source.category} ({source.symbol}) to {target.category} "
            f"({target.symbol})"
        )
    base = source.to_base(Fraction(value))
    if source.category == "temperature" and base < 0:
        raise ToolError(f"{value:g} {source.symbol} is below absolute zero")
    try:
        return float(target.from_base(base))
    except OverflowError:
        raise ToolError(f"{value:g} {source.symbol} is too large in {target.symbol}") from None
