"""Schemas: every kind checks good data, reports bad data with paths, applies defaults,
round-trips through to_wire and describes itself as JSON Schema.

String annotations on purpose (the future import): the checker must resolve them.
"""

from __future__ import annotations

import enum
import subprocess
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, NotRequired, TypedDict

import msgspec
import pydantic
import pydantic.dataclasses
import pytest

from taskora_cli.errors import Issue, UsageError, ValidationError
from taskora_cli.schemas import (
    Schema,
    SchemaMismatch,
    input_schema_of_handler,
    output_schema_of_handler,
    schema_of,
    to_wire,
)

if TYPE_CHECKING:
    from taskora_cli.context import JobContext


class Priority(enum.Enum):
    LOW = "low"
    HIGH = "high"


@dataclass
class Line:
    sku: str
    qty: int
    price: float = 0.0


@dataclass
class Order:
    to: str
    lines: list[Line]
    priority: Priority = Priority.LOW
    note: str | None = None
    tags: set[str] = field(default_factory=set)
    meta: dict[str, int] = field(default_factory=dict)
    kind: Literal["retail", "wholesale"] = "retail"
    point: tuple[int, int] = (0, 0)
    extra: Any = None


@dataclass
class Tree:
    name: str
    children: list[Tree] = field(default_factory=list)


class LineDict(TypedDict):
    sku: str
    qty: int


class OrderDict(TypedDict):
    to: str
    lines: list[LineDict]
    note: NotRequired[str]


class PydLine(pydantic.BaseModel):
    sku: str
    qty: int


class PydOrder(pydantic.BaseModel):
    to: str
    items: list[PydLine]
    note: str = "none"


class MsgLine(msgspec.Struct):
    sku: str
    qty: int


class MsgOrder(msgspec.Struct, forbid_unknown_fields=True):
    to: str
    items: list[MsgLine]
    note: str = "none"


@pydantic.dataclasses.dataclass
class PydPoint:
    x: int
    y: int = 0


@dataclass
class WithModel:
    line: PydLine


GOOD_ORDER = {"to": "ann", "lines": [{"sku": "a", "qty": 2, "price": 1.5}]}


def issues_of(schema: Schema, value: Any) -> list[Issue]:
    with pytest.raises(SchemaMismatch) as caught:
        schema.validate(value)
    return caught.value.issues


# -- dataclasses --------------------------------------------------------------------------


def test_dataclass_builds_instances_and_applies_defaults() -> None:
    schema = schema_of(Order)
    assert schema is not None and schema.name == "Order"
    order = schema.validate(GOOD_ORDER)
    assert order == Order(to="ann", lines=[Line("a", 2, 1.5)])
    assert order.priority is Priority.LOW and order.tags == set()


def test_dataclass_converts_json_shapes_to_field_types() -> None:
    data = {
        **GOOD_ORDER,
        "priority": "high",
        "tags": ["x", "x"],
        "point": [1, 2],
        "lines": [{"sku": "a", "qty": 1, "price": 3}],
    }
    order = schema_of(Order).validate(data)  # type: ignore[union-attr]
    assert order.priority is Priority.HIGH
    assert order.tags == {"x"} and order.point == (1, 2)
    assert order.lines[0].price == 3.0 and isinstance(order.lines[0].price, float)


def test_dataclass_reports_every_issue_with_its_path() -> None:
    bad = {
        "lines": [{"sku": "a", "qty": "2"}, {"sku": "b", "qty": True, "colour": "red"}],
        "priority": "urgent",
        "kind": "resale",
        "meta": {"a": 1.5},
        "surprise": 1,
    }
    assert issues_of(schema_of(Order), bad) == [  # type: ignore[arg-type]
        Issue("to", "field required"),
        Issue("lines.0.qty", "expected int, got str"),
        Issue("lines.1.qty", "expected int, got bool"),
        Issue("lines.1.colour", "unknown field"),
        Issue("priority", "expected one of ['low', 'high'], got 'urgent'"),
        Issue("meta.a", "expected int, got float"),
        Issue("kind", "expected one of ['retail', 'wholesale'], got 'resale'"),
        Issue("surprise", "unknown field"),
    ]


def test_dataclass_optional_and_wrong_shapes() -> None:
    schema = schema_of(Order)
    assert schema is not None
    assert schema.validate({**GOOD_ORDER, "note": None}).note is None
    assert issues_of(schema, {**GOOD_ORDER, "note": 5}) == [Issue("note", "expected str, got int")]
    assert issues_of(schema, {**GOOD_ORDER, "lines": {}}) == [
        Issue("lines", "expected a list, got dict")
    ]
    assert issues_of(schema, {**GOOD_ORDER, "point": [1]}) == [
        Issue("point", "expected 2 items, got 1")
    ]
    assert issues_of(schema, "ann") == [Issue("", "expected an object (Order), got str")]


def test_dataclass_instance_is_rechecked() -> None:
    schema = schema_of(Line)
    assert schema is not None
    assert schema.validate(Line("a", 1)) == Line("a", 1)
    assert issues_of(schema, Line("a", "1")) == [Issue("qty", "expected int, got str")]  # type: ignore[arg-type]


def test_recursive_dataclass() -> None:
    schema = schema_of(Tree)
    assert schema is not None
    tree = schema.validate({"name": "a", "children": [{"name": "b"}]})
    assert tree == Tree("a", [Tree("b")])
    assert issues_of(schema, {"name": "a", "children": [{"name": 1}]}) == [
        Issue("children.0.name", "expected str, got int")
    ]
    document = schema.json_schema()
    assert document is not None and document["$ref"] == "#/$defs/Tree"  # as pydantic writes it
    assert document["$defs"]["Tree"]["properties"]["children"]["items"] == {"$ref": "#/$defs/Tree"}


def test_dataclass_to_wire_round_trips() -> None:
    schema = schema_of(Order)
    assert schema is not None
    order = schema.validate({**GOOD_ORDER, "priority": "high", "tags": ["t"], "point": [1, 2]})
    wire = schema.to_wire(order)
    assert wire["priority"] == "high" and wire["tags"] == ["t"] and wire["point"] == [1, 2]
    assert schema.validate(wire) == order


def test_dataclass_json_schema() -> None:
    document = schema_of(Order).json_schema()  # type: ignore[union-attr]
    assert document is not None
    assert document["title"] == "Order" and document["type"] == "object"
    assert document["required"] == ["to", "lines"]
    assert document["additionalProperties"] is False
    properties = document["properties"]
    assert properties["lines"]["items"] == {"$ref": "#/$defs/Line"}
    priority = {"title": "Priority", "enum": ["low", "high"], "default": "low"}
    assert properties["priority"] == priority
    assert properties["note"]["anyOf"] == [{"type": "string"}, {"type": "null"}]
    assert properties["tags"]["uniqueItems"] is True
    assert document["$defs"]["Line"]["properties"]["price"]["default"] == 0.0


def test_dataclass_with_unsupported_field_type_is_a_usage_error() -> None:
    @dataclass
    class Odd:
        when: complex

    with pytest.raises(UsageError, match=r"Odd\.when.*complex"):
        schema_of(Odd)


def test_dataclass_field_of_pydantic_model_delegates() -> None:
    schema = schema_of(WithModel)
    assert schema is not None
    assert schema.validate({"line": {"sku": "a", "qty": "3"}}) == WithModel(PydLine(sku="a", qty=3))
    assert issues_of(schema, {"line": {"sku": "a"}}) == [Issue("line.qty", "Field required")]
    assert schema.to_wire(WithModel(PydLine(sku="a", qty=3))) == {"line": {"sku": "a", "qty": 3}}
    document = schema.json_schema()
    assert document is not None and document["properties"]["line"]["title"] == "PydLine"


# -- TypedDict ----------------------------------------------------------------------------


def test_typeddict_checks_and_returns_a_new_dict() -> None:
    schema = schema_of(OrderDict)
    assert schema is not None
    data = {"to": "ann", "lines": [{"sku": "a", "qty": 1}]}
    checked = schema.validate(data)
    assert checked == data and checked is not data
    assert schema.validate({**data, "note": "hi"})["note"] == "hi"
    assert issues_of(schema, {"lines": [{"sku": "a"}], "x": 1}) == [
        Issue("to", "field required"),
        Issue("lines.0.qty", "field required"),
        Issue("x", "unknown field"),
    ]
    document = schema.json_schema()
    assert document is not None and document["required"] == ["to", "lines"]
    assert schema.to_wire(checked) == data


# -- pydantic -----------------------------------------------------------------------------


def test_pydantic_model() -> None:
    schema = schema_of(PydOrder)
    assert schema is not None and schema.name == "PydOrder"
    order = schema.validate({"to": "ann", "items": [{"sku": "a", "qty": 1}]})
    assert isinstance(order, PydOrder) and order.note == "none"
    assert schema.validate(order) is order
    not_int = "Input should be a valid integer, unable to parse string as an integer"
    assert issues_of(schema, {"items": [{"sku": "a", "qty": "x"}]}) == [
        Issue("to", "Field required"),
        Issue("items.0.qty", not_int),
    ]
    wire = schema.to_wire(order)
    assert wire == {"to": "ann", "items": [{"sku": "a", "qty": 1}], "note": "none"}
    assert schema.to_wire(wire) == wire  # a handler may return the plain dict too
    assert schema.json_schema() == PydOrder.model_json_schema()


def test_pydantic_dataclass_goes_through_pydantic() -> None:
    schema = schema_of(PydPoint)
    assert schema is not None
    assert schema.validate({"x": "2"}) == PydPoint(x=2, y=0)  # pydantic's own (lax) rules
    assert schema.to_wire(PydPoint(x=1)) == to_wire(PydPoint(x=1)) == {"x": 1, "y": 0}
    assert schema.json_schema()["required"] == ["x"]  # type: ignore[index]


# -- msgspec ------------------------------------------------------------------------------


def test_msgspec_struct() -> None:
    schema = schema_of(MsgOrder)
    assert schema is not None and schema.name == "MsgOrder"
    order = schema.validate({"to": "ann", "items": [{"sku": "a", "qty": 1}]})
    assert order == MsgOrder("ann", [MsgLine("a", 1)])
    assert schema.validate(order) == order
    assert issues_of(schema, {"to": "ann", "items": [{"sku": "a", "qty": "1"}]}) == [
        Issue("items.0.qty", "Expected `int`, got `str`")
    ]
    assert issues_of(schema, {"to": "ann", "items": [{"sku": "a"}]}) == [
        Issue("items.0.qty", "field required")
    ]
    assert issues_of(schema, {"to": "ann", "items": [], "x": 1}) == [Issue("x", "unknown field")]
    wire = schema.to_wire(order)
    assert wire == {"to": "ann", "items": [{"sku": "a", "qty": 1}], "note": "none"}
    document = schema.json_schema()
    assert document is not None and document["title"] == "MsgOrder"
    assert document["required"] == ["to", "items"]
    assert document["$defs"]["MsgLine"]["required"] == ["sku", "qty"]


# -- callables ----------------------------------------------------------------------------


def positive(value: Any) -> int:
    if not isinstance(value, int) or value <= 0:
        raise ValueError("must be a positive int")
    return value * 10


def test_callable_returns_the_checked_value_or_its_message_is_the_issue() -> None:
    schema = schema_of(positive)
    assert schema is not None and schema.name == "positive"
    assert schema.validate(3) == 30
    assert issues_of(schema, -1) == [Issue("", "must be a positive int")]
    assert schema.json_schema() is None


def test_callable_returning_none_keeps_the_value_and_may_raise_its_own_issues() -> None:
    def nonempty(value: Any) -> None:
        if not value.get("to"):
            raise SchemaMismatch([Issue("to", "must not be empty")])

    schema = schema_of(nonempty)
    assert schema is not None
    data = {"to": "ann"}
    assert schema.validate(data) is data
    assert issues_of(schema, {"to": ""}) == [Issue("to", "must not be empty")]


# -- schema_of itself ---------------------------------------------------------------------


def test_schema_of_passes_none_and_schemas_through_and_rejects_the_rest() -> None:
    schema = schema_of(Line)
    assert schema_of(None) is None
    assert schema_of(schema) is schema
    for bad in (int, dict, list[int], 5, "Email"):
        with pytest.raises(UsageError, match="pydantic model class"):
            schema_of(bad)
    with pytest.raises(UsageError, match="async"):
        schema_of(typed_async)


def test_check_raises_the_public_validation_error() -> None:
    schema = schema_of(Line)
    assert schema is not None
    with pytest.raises(ValidationError) as caught:
        schema.check({"sku": 1, "qty": 1}, task="ship", what="result")
    assert caught.value.task == "ship" and caught.value.what == "result"
    assert caught.value.issues == [Issue("sku", "expected str, got int")]


# -- handler annotations ------------------------------------------------------------------


def send(data: PydOrder, ctx: JobContext) -> MsgLine:  # ctx's type exists only for mypy
    raise NotImplementedError


def plain(data: dict[str, Any], ctx: Any) -> int:
    raise NotImplementedError


async def typed_async(data: OrderDict) -> Line:
    raise NotImplementedError


def test_handler_annotations_give_schemas_only_for_schema_classes() -> None:
    assert input_schema_of_handler(send).name == "PydOrder"  # type: ignore[union-attr]
    assert output_schema_of_handler(send).name == "MsgLine"  # type: ignore[union-attr]
    assert input_schema_of_handler(typed_async).name == "OrderDict"  # type: ignore[union-attr]
    assert output_schema_of_handler(typed_async).name == "Line"  # type: ignore[union-attr]
    assert input_schema_of_handler(plain) is None and output_schema_of_handler(plain) is None
    assert input_schema_of_handler(lambda data, ctx: None) is None
    assert input_schema_of_handler(lambda: None) is None


def test_to_wire_of_plain_values_and_enums() -> None:
    data = {"a": [1, "x", None, True], "b": (Priority.HIGH,)}
    assert to_wire(data) == {"a": [1, "x", None, True], "b": ["high"]}


def test_importing_taskora_loads_neither_pydantic_nor_msgspec() -> None:
    code = (
        "import taskora_cli.schemas, sys; from taskora_cli import *; "  # every public name
        "assert 'pydantic' not in sys.modules and 'msgspec' not in sys.modules, "
        "sorted(m for m in sys.modules if m.startswith(('pydantic', 'msgspec')))"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# --- what a review found -------------------------------------------------------------------


@dataclass
class Branch:
    kids: list[Branch]


@dataclass
class Ping:
    pong: Pong | None = None


@dataclass
class Pong:
    ping: Ping | None = None


class MsgNode(msgspec.Struct):
    value: int
    next: MsgNode | None = None


class PydNode(pydantic.BaseModel):
    value: int
    next: PydNode | None = None


@pytest.mark.parametrize("cls", [Branch, Ping, MsgNode, PydNode])
def test_a_self_referencing_schema_publishes_a_usable_json_schema(cls: type) -> None:
    from taskora_cli.json_schema import json_schema_issues

    document = schema_of(cls).json_schema()  # type: ignore[union-attr]
    assert document is not None
    good = {"kids": [{"kids": []}]} if cls is Branch else {}
    if cls is Ping:
        good = {"pong": {"ping": {"pong": None}}}
    elif cls in (MsgNode, PydNode):
        good = {"value": 1, "next": {"value": 2}}
    assert json_schema_issues(good, document) == []
    bad = {**good, "surprise": 1} if cls in (Branch, Ping) else {"value": 1, "next": {"value": "x"}}
    assert json_schema_issues(bad, document) != []


class Aliased(pydantic.BaseModel):
    user_id: int = pydantic.Field(alias="userId")


@pydantic.dataclasses.dataclass
class AliasedPoint:
    x_pos: int = pydantic.Field(alias="xPos")


@dataclass
class HoldsAliased:
    inner: Aliased


def test_the_wire_form_of_an_aliased_model_passes_its_own_schema() -> None:
    for cls, data in [(Aliased, {"userId": 7}), (AliasedPoint, {"xPos": 3})]:
        schema = schema_of(cls)
        assert schema is not None
        value = schema.validate(data)
        assert schema.to_wire(value) == data and to_wire(value) == data
        assert schema.validate(schema.to_wire(value)) == value
    holder = schema_of(HoldsAliased)
    assert holder is not None
    wire = holder.to_wire(holder.validate({"inner": {"userId": 1}}))
    assert wire == {"inner": {"userId": 1}}


def test_a_predicate_check_accepts_on_true_and_rejects_on_false() -> None:
    schema = schema_of(lambda d: isinstance(d, dict))
    assert schema is not None
    assert schema.validate({"a": 1}) == {"a": 1}
    assert issues_of(schema, [1]) == [Issue("", "check <lambda> returned False")]


def test_to_wire_returns_plain_json_as_it_is() -> None:
    data = {"a": [1, 2.5, "x", None, True], "b": {"c": []}}
    assert to_wire(data) is data
    deep: list[Any] = []
    for _ in range(5000):  # deeper than the recursion limit
        deep = [deep]
    assert to_wire(deep) is deep
    mixed = {"plain": [1], "line": Line("a", 1)}
    assert to_wire(mixed) == {"plain": [1], "line": {"sku": "a", "qty": 1, "price": 0.0}}
    assert mixed["line"] == Line("a", 1)  # the caller's data is left alone


def test_two_classes_of_one_name_get_their_own_definitions() -> None:
    import dataclasses

    from taskora_cli.json_schema import json_schema_issues

    first = dataclasses.make_dataclass("Item", [("a", int)])
    second = dataclasses.make_dataclass("Item", [("b", str)])
    model = pydantic.create_model(
        "Wrapper", inner=(pydantic.create_model("Item", c=(bool, ...)), ...)
    )
    holder = dataclasses.make_dataclass(
        "Holder", [("x", first), ("y", second), ("z", model), ("w", list[first])]
    )
    document = schema_of(holder).json_schema()  # type: ignore[union-attr]
    assert document is not None
    assert sorted(document["$defs"]) == ["Item", "Item_2", "Item_3"]
    good = {"x": {"a": 1}, "y": {"b": "s"}, "z": {"inner": {"c": True}}, "w": [{"a": 2}]}
    assert json_schema_issues(good, document) == []
    swapped = {"x": {"b": "s"}, "y": {"a": 1}, "z": {"inner": {"a": 1}}, "w": [{"b": "s"}]}
    assert len(json_schema_issues(swapped, document)) >= 4


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


class Shade(enum.Enum):
    DARK = "dark"


@dataclass
class Keyed:
    by_id: dict[int, str]
    by_weight: dict[float, int]
    by_level: dict[Level, int]
    by_shade: dict[Shade, int]


class KeyedDict(TypedDict):
    by_id: dict[int, str]


def test_non_string_dict_keys_survive_json_transport() -> None:
    import json

    schema = schema_of(Keyed)
    assert schema is not None
    value = Keyed({1: "a"}, {0.5: 1, 2.0: 2}, {Level.HIGH: 3}, {Shade.DARK: 4})
    carried = json.loads(json.dumps(schema.to_wire(value)))
    assert schema.validate(carried) == value
    typed = schema_of(KeyedDict)
    assert typed is not None
    assert typed.validate({"by_id": {"7": "x"}}) == {"by_id": {7: "x"}}
    assert issues_of(typed, {"by_id": {"x": "y"}}) == [Issue("by_id.x", "expected int, got str")]


class Opaque:
    pass


class WithOpaque(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(arbitrary_types_allowed=True)
    thing: Opaque


def test_a_model_without_a_json_schema_has_none() -> None:
    assert schema_of(WithOpaque).json_schema() is None  # type: ignore[union-attr]


class MsgQty(msgspec.Struct):
    q: int


class MsgByKey(msgspec.Struct):
    m: dict[str, MsgQty]
    rows: list[dict[str, MsgQty]] = []


def test_msgspec_issues_inside_a_dict_name_a_usable_path() -> None:
    # msgspec does not say which key: "*" stands for it
    schema = schema_of(MsgByKey)
    assert schema is not None
    assert issues_of(schema, {"m": {"a": {"q": "x"}}}) == [
        Issue("m.*.q", "Expected `int`, got `str`")
    ]
    assert issues_of(schema, {"m": {}, "rows": [{"k": {}}]}) == [
        Issue("rows.0.*.q", "field required")
    ]


class Blob(pydantic.BaseModel):
    name: str = ""
    blob: bytes = b""
    x: float = 0.0


@pydantic.dataclasses.dataclass
class BlobPoint:
    blob: bytes


def test_pydantic_to_wire_names_the_field_it_cannot_write() -> None:
    from taskora_cli.errors import SerializationError

    schema = schema_of(Blob)
    assert schema is not None
    for write in (schema.to_wire, to_wire):
        with pytest.raises(SerializationError, match="'blob' of Blob"):
            write(Blob(blob=b"\xff"))
    with pytest.raises(SerializationError, match="'blob' of BlobPoint"):
        to_wire(BlobPoint(blob=b"\xff"))
    assert schema.to_wire(Blob(x=float("inf")))["x"] == float("inf")  # not None


def test_a_pydantic_field_written_under_a_name_its_validation_refuses_is_refused() -> None:
    pydantic = pytest.importorskip("pydantic")

    class OneWay(pydantic.BaseModel):
        user_id: int = pydantic.Field(0, serialization_alias="userId")

    with pytest.raises(UsageError, match="use alias='userId'"):
        schema_of(OneWay)

    class ByName(pydantic.BaseModel):  # reads its field name too: the dump reads back
        model_config = pydantic.ConfigDict(populate_by_name=True)
        user_id: int = pydantic.Field(0, serialization_alias="user_id")

    assert schema_of(ByName).validate({"user_id": 4}).user_id == 4
