"""Does a transform chain line up? Read from the functions' annotations, at ``check`` time.

The rule is deliberately simple and conservative: step ``i``'s return type must be accepted by step
``i+1``'s parameter type. ``Any`` on either side cannot be checked and is accepted; a union
parameter accepts any of its members; classes follow ``issubclass``; generics compare their origins
(``dict[str, Any]`` accepts ``dict[str, Any]``, not ``list[...]``).
"""

from __future__ import annotations

import types
import typing
from typing import Any

from router.registry import TransformSpec

_UNIONS = (typing.Union, types.UnionType)


def _name(tp: Any) -> str:
    """A readable type: ``dict[str, Any]``, ``Order | None``, unqualified class names."""
    if tp is type(None) or tp is None:
        return "None"
    if tp is Any:
        return "Any"
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in _UNIONS:
        return " | ".join(_name(a) for a in args)
    if origin is not None:
        return f"{_name(origin)}[{', '.join(_name(a) for a in args)}]"
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def accepts(param: Any, value: Any) -> bool:
    """True when a value of type ``value`` may be passed where ``param`` is expected."""
    if param is Any or value is Any or param is object:
        return True
    if typing.get_origin(value) in _UNIONS:  # every member must fit (checked first: unions nest)
        return all(accepts(param, member) for member in typing.get_args(value))
    if typing.get_origin(param) in _UNIONS:
        return any(accepts(member, value) for member in typing.get_args(param))
    if param is float and value is int:  # the numeric tower, as type checkers allow
        return True
    param_origin = typing.get_origin(param) or param
    value_origin = typing.get_origin(value) or value
    if isinstance(param_origin, type) and isinstance(value_origin, type):
        return issubclass(value_origin, param_origin)
    return bool(param == value)


def chain_problems(chain: list[TransformSpec]) -> list[tuple[int, str]]:
    """``(index, message)`` for every link whose types do not line up."""
    problems = []
    for i in range(1, len(chain)):
        before, after = chain[i - 1], chain[i]
        if not accepts(after.input_type, before.output_type):
            problems.append(
                (
                    i,
                    f"{after.name} takes {_name(after.input_type)} but {before.name} "
                    f"returns {_name(before.output_type)}",
                )
            )
    return problems
