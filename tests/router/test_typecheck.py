"""The transform-chain type check: ``accepts`` on annotations, and ``chain_problems`` messages."""

from __future__ import annotations

import typing
from collections.abc import Mapping, Sequence
from typing import Any, Optional, Union

import pytest
from pydantic import BaseModel

from router.config.typecheck import accepts, chain_problems
from router.registry import TransformSpec, register_transform


class Order(BaseModel):
    id: str


class PriorityOrder(Order):
    priority: int


class Invoice(BaseModel):
    number: str


ACCEPTED: list[tuple[Any, Any]] = [
    (Any, Order),
    (Order, Any),
    (Any, Any),
    (object, list[int]),
    (Order, Order),
    (Order, PriorityOrder),
    (int, bool),
    (Order | Invoice, Order),
    (Order | Invoice, Invoice),
    (Order | Invoice, Order | Invoice),
    (Order | None, Order | None),
    (Order | Invoice | None, Invoice | None),
    (Order | None, None.__class__),
    (Optional[Order], PriorityOrder),  # noqa: UP045 - the typing spelling must work too
    (Union[Order, Invoice], Invoice),  # noqa: UP007 - the typing spelling must work too
    (dict[str, Any], dict[str, Any]),
    (dict[str, Any], dict[str, int]),
    (dict, dict[str, Any]),
    (dict[str, Any], dict),
    (Mapping[str, Any], dict[str, Any]),
    (Sequence[int], list[int]),
    (list[int], list[int]),
]

REFUSED: list[tuple[Any, Any]] = [
    (Order, Invoice),
    (PriorityOrder, Order),
    (bool, int),
    (Order, Order | None),
    (Order, Order | Invoice),
    (Order | Invoice, dict[str, Any]),
    (dict[str, Any], list[int]),
    (list[int], dict[str, Any]),
    (dict[str, Any], Order),
    (Order, object),
    (str, bytes),
]


def type_id(tp: Any) -> str:
    if isinstance(tp, type) and typing.get_origin(tp) is None:
        return tp.__name__
    return str(tp).replace(f"{__name__}.", "").replace("typing.", "")


@pytest.mark.parametrize(("param", "value"), ACCEPTED, ids=type_id)
def test_accepts(param: Any, value: Any) -> None:
    assert accepts(param, value) is True


@pytest.mark.parametrize(("param", "value"), REFUSED, ids=type_id)
def test_refuses(param: Any, value: Any) -> None:
    assert accepts(param, value) is False


def spec(name: str, input_type: Any, output_type: Any) -> TransformSpec:
    return TransformSpec(name=name, fn=lambda x: x, input_type=input_type, output_type=output_type)


def test_a_chain_that_lines_up_has_no_problems() -> None:
    chain = [
        spec("t.parse", dict[str, Any], PriorityOrder),
        spec("t.bill", Order, Invoice),
        spec("t.audit", Any, Any),
        spec("t.store", Invoice, None.__class__),
    ]
    assert chain_problems(chain) == []
    assert chain_problems([]) == []
    assert chain_problems(chain[:1]) == []


def test_chain_problems_name_each_broken_link_by_index() -> None:
    chain = [
        spec("t.parse", dict[str, Any], Order),
        spec("t.bill", Invoice, Invoice),
        spec("t.ship", Order, Invoice),
        spec("t.pay", Invoice, Order),
    ]
    assert chain_problems(chain) == [
        (1, "t.bill takes Invoice but t.parse returns Order"),
        (2, "t.ship takes Order but t.bill returns Invoice"),
    ]


def test_chain_problems_render_generic_and_union_types_readably() -> None:
    chain = [
        spec("t.list", Any, list[int]),
        spec("t.dict", dict[str, Any], Order | None),
        spec("t.order", Order, Any),
    ]
    assert chain_problems(chain) == [
        (1, "t.dict takes dict[str, Any] but t.list returns list[int]"),
        (2, "t.order takes Order but t.dict returns Order | None"),
    ]


def to_invoice(order: Order) -> Invoice:
    return Invoice(number=order.id)


def to_order(invoice: Invoice) -> Order:
    return Order(id=invoice.number)


def two_arguments(a: int, b: int = 0) -> int:
    return a + b


def test_registered_annotations_type_the_chain() -> None:
    first = register_transform("test_typecheck.to_invoice", to_invoice)
    second = register_transform("test_typecheck.to_order", to_order)
    assert (first.input_type, first.output_type) == (Order, Invoice)
    assert first.validates_input
    assert chain_problems([first, second]) == []
    assert chain_problems([first, first]) == [
        (1, "test_typecheck.to_invoice takes Order but test_typecheck.to_invoice returns Invoice")
    ]


def test_a_transform_takes_exactly_one_argument() -> None:
    with pytest.raises(TypeError, match="exactly one argument"):
        register_transform("test_typecheck.two", two_arguments)
