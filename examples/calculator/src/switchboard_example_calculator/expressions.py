"""Safe arithmetic: parse with `ast`, walk a whitelist of nodes, bound every number.

Nothing is ever passed to `eval`. Each limit below stops an expression that would take the
process's time or memory (`9**9**9`, `factorial(10**6)`, a 10 MB integer) before it runs.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable
from typing import Any

from mcp.server.mcpserver.exceptions import ToolError

Number = int | float

MAX_LENGTH = 1000
MAX_NODES = 2000
MAX_DEPTH = 200
MAX_INT_BITS = 10_000
"""Largest integer kept, about 3,000 decimal digits."""
MAX_FACTORIAL = 1000
MAX_COMBINATORIC = 10_000

CONSTANTS: dict[str, float] = {"pi": math.pi, "e": math.e, "tau": math.tau}

_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {
    ast.UAdd: operator.pos,
    ast.USub: operator.neg,
}


def _bounded(limit: int, fn: Callable[..., Number]) -> Callable[..., Number]:
    """`fn` refusing integer arguments above `limit`, whose results take too long to compute."""

    def call(*args: Number) -> Number:
        if any(isinstance(a, int) and abs(a) > limit for a in args):
            raise ToolError(f"`{fn.__name__}` accepts integers up to {limit}")
        return fn(*args)

    return call


FUNCTIONS: dict[str, Callable[..., Number]] = {
    "abs": abs,
    "round": round,
    "min": min,
    "max": max,
    "sqrt": math.sqrt,
    "cbrt": math.cbrt,
    "exp": math.exp,
    "log": math.log,
    "log2": math.log2,
    "log10": math.log10,
    "sin": math.sin,
    "cos": math.cos,
    "tan": math.tan,
    "asin": math.asin,
    "acos": math.acos,
    "atan": math.atan,
    "atan2": math.atan2,
    "sinh": math.sinh,
    "cosh": math.cosh,
    "tanh": math.tanh,
    "degrees": math.degrees,
    "radians": math.radians,
    "hypot": math.hypot,
    "floor": math.floor,
    "ceil": math.ceil,
    "trunc": math.trunc,
    "gcd": math.gcd,
    "factorial": _bounded(MAX_FACTORIAL, math.factorial),
    "comb": _bounded(MAX_COMBINATORIC, math.comb),
    "perm": _bounded(MAX_COMBINATORIC, math.perm),
}


def evaluate(expression: str) -> Number:
    """The value of an arithmetic expression; a `ToolError` says what is not allowed."""
    if len(expression) > MAX_LENGTH:
        raise ToolError(f"the expression is longer than {MAX_LENGTH} characters")
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError as exc:
        raise ToolError(f"not valid arithmetic: {exc.msg} (column {exc.offset})") from None
    _check_size(tree)
    return _checked(_eval(tree.body))


def _check_size(tree: ast.Expression) -> None:
    if sum(1 for _ in ast.walk(tree)) > MAX_NODES:
        raise ToolError(f"the expression has more than {MAX_NODES} parts")
    stack: list[tuple[ast.AST, int]] = [(tree.body, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ToolError(f"the expression nests deeper than {MAX_DEPTH} levels")
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))


def _eval(node: ast.expr) -> Number:
    match node:
        case ast.Constant(value=bool()) | ast.Constant(value=complex()):
            raise ToolError(f"{node.value!r} is not a real number")
        case ast.Constant(value=int() | float() as value):
            return value
        case ast.Name(id=name) if name in CONSTANTS:
            return CONSTANTS[name]
        case ast.Name(id=name):
            raise ToolError(f"unknown name `{name}`; constants are {', '.join(CONSTANTS)}")
        case ast.UnaryOp(op=op, operand=operand) if type(op) in _UNARY:
            return _checked(_UNARY[type(op)](_eval(operand)))
        case ast.BinOp(op=ast.BitXor()):
            raise ToolError("`^` is not supported; write powers as `**`")
        case ast.BinOp(left=left, op=op, right=right) if type(op) in _BINARY:
            return _binary(op, _eval(left), _eval(right))
        case ast.Call(func=ast.Name(id=name), args=args, keywords=[]) if name in FUNCTIONS:
            return _call(name, [_eval(arg) for arg in args])
        case ast.Call(func=ast.Name(id=name)) if name in FUNCTIONS:
            raise ToolError(f"`{name}` takes positional arguments only")
        case ast.Call(func=ast.Name(id=name)):
            raise ToolError(f"unknown function `{name}`; available: {', '.join(FUNCTIONS)}")
        case _:
            raise ToolError(f"`{ast.unparse(node)}` is not allowed: use numbers, + - * / // % **")


def _binary(op: ast.operator, left: Number, right: Number) -> Number:
    if isinstance(op, ast.Pow | ast.Mult) and isinstance(left, int) and isinstance(right, int):
        _check_int_growth(op, left, right)
    try:
        return _checked(_BINARY[type(op)](left, right))
    except ZeroDivisionError:
        raise ToolError("division by zero") from None
    except OverflowError:
        raise ToolError("the result is too large for a floating-point number") from None


def _check_int_growth(op: ast.operator, left: int, right: int) -> None:
    """Refuse before computing: an integer power or product whose size is known to be too big."""
    if isinstance(op, ast.Mult):
        bits = left.bit_length() + right.bit_length() - 1
    elif abs(left) <= 1 or right < 0:
        return
    else:
        bits = (left.bit_length() - 1) * right
    if bits > MAX_INT_BITS:
        raise ToolError(f"the result would exceed {MAX_INT_BITS} bits (about 3,000 digits)")


def _call(name: str, args: list[Number]) -> Number:
    try:
        return _checked(FUNCTIONS[name](*args))
    except TypeError:
        raise ToolError(f"wrong arguments for `{name}`") from None
    except ValueError as exc:
        raise ToolError(f"`{name}`: {exc}") from None
    except OverflowError:
        raise ToolError(f"`{name}`: the result is too large") from None


def _checked(value: object) -> Number:
    """`value` if it is a finite real number of a size we keep."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ToolError("the result is not a real number")
    if isinstance(value, float) and not math.isfinite(value):
        raise ToolError("the result is too large for a floating-point number")
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise ToolError(f"the result would exceed {MAX_INT_BITS} bits (about 3,000 digits)")
    return value
