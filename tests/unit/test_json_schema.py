"""json_schema_issues against schemas shaped exactly as pydantic v2 and msgspec emit them."""

from __future__ import annotations

import subprocess
import sys
from typing import Annotated, Any

import pytest

from taskora_cli.errors import Issue, UsageError
from taskora_cli.json_schema import json_schema_issues

# pydantic v2: Order.model_json_schema() of
#   class Line(BaseModel): sku: str = Field(pattern=...); qty: int = Field(ge=1, le=99)
#   class Order(BaseModel, extra="forbid"): id: int; items: list[Line]; note: str | None = None;
#       color: Color = Color.red; kind: Literal["a", "b"] = "a"; ship: Line | None = None;
#       pair: tuple[int, str] = (1, "x"); tags: dict[str, int] = {}
PYDANTIC_ORDER: dict[str, Any] = {
    "$defs": {
        "Color": {"enum": ["red", "blue"], "title": "Color", "type": "string"},
        "Line": {
            "properties": {
                "sku": {"pattern": "^[A-Z]{3}-\\d+$", "title": "Sku", "type": "string"},
                "qty": {"maximum": 99, "minimum": 1, "title": "Qty", "type": "integer"},
            },
            "required": ["sku", "qty"],
            "title": "Line",
            "type": "object",
        },
    },
    "additionalProperties": False,
    "properties": {
        "id": {"title": "Id", "type": "integer"},
        "items": {"items": {"$ref": "#/$defs/Line"}, "title": "Items", "type": "array"},
        "note": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None, "title": "Note"},
        "color": {"$ref": "#/$defs/Color", "default": "red"},
        "kind": {"default": "a", "enum": ["a", "b"], "title": "Kind", "type": "string"},
        "ship": {"anyOf": [{"$ref": "#/$defs/Line"}, {"type": "null"}], "default": None},
        "pair": {
            "default": [1, "x"],
            "maxItems": 2,
            "minItems": 2,
            "prefixItems": [{"type": "integer"}, {"type": "string"}],
            "title": "Pair",
            "type": "array",
        },
        "tags": {
            "additionalProperties": {"type": "integer"},
            "default": {},
            "title": "Tags",
            "type": "object",
        },
    },
    "required": ["id", "items"],
    "title": "Order",
    "type": "object",
}

# msgspec: msgspec.json.schema(Email) of
#   class Email(Struct, forbid_unknown_fields=True): to: Annotated[str, Meta(min_length=3)];
#       subject: str; retries: int | None = None; attachments: list[Attachment] = []
#   class Attachment(Struct): name: str; size: Annotated[float, Meta(gt=0)]
MSGSPEC_EMAIL: dict[str, Any] = {
    "$ref": "#/$defs/Email",
    "$defs": {
        "Email": {
            "title": "Email",
            "type": "object",
            "properties": {
                "to": {"type": "string", "minLength": 3},
                "subject": {"type": "string"},
                "retries": {"anyOf": [{"type": "integer"}, {"type": "null"}], "default": None},
                "attachments": {
                    "type": "array",
                    "items": {"$ref": "#/$defs/Attachment"},
                    "default": [],
                },
            },
            "required": ["to", "subject"],
            "additionalProperties": False,
        },
        "Attachment": {
            "title": "Attachment",
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "size": {"type": "number", "exclusiveMinimum": 0},
            },
            "required": ["name", "size"],
        },
    },
}

GOOD_ORDER = {"id": 7, "items": [{"sku": "ABC-1", "qty": 2}], "note": None, "pair": [1, "y"]}


def paths(issues: list[Issue]) -> list[str]:
    return [issue.path for issue in issues]


def test_a_valid_pydantic_payload_has_no_issues() -> None:
    full = {**GOOD_ORDER, "color": "blue", "kind": "b", "ship": {"sku": "XYZ-9", "qty": 1}}
    assert json_schema_issues(GOOD_ORDER, PYDANTIC_ORDER) == []
    assert json_schema_issues({**full, "tags": {"a": 1}}, PYDANTIC_ORDER) == []


def test_every_bad_field_is_reported_with_a_dotted_path() -> None:
    bad = {
        "id": "7",
        "items": [{"sku": "ABC-1", "qty": 2}, {"sku": "abc", "qty": 0}, {"qty": 1}],
        "color": "green",
        "tags": {"a": "x"},
        "extra": 1,
    }
    issues = json_schema_issues(bad, PYDANTIC_ORDER)
    assert paths(issues) == [
        "id",
        "items.1.sku",
        "items.1.qty",
        "items.2.sku",
        "color",
        "tags.a",
        "extra",
    ]
    messages = {issue.path: issue.message for issue in issues}
    assert messages["id"] == 'expected an integer, got the string "7"'
    assert messages["items.1.qty"] == "must be >= 1, got 0"
    assert messages["items.2.sku"] == "is required but missing"
    assert messages["color"] == 'must be one of "red", "blue"; got the string "green"'
    assert messages["extra"].startswith("is not an allowed field (allowed: color, id, items")
    assert "pattern" in messages["items.1.sku"]


def test_optional_fields_report_the_inner_model_not_the_union() -> None:
    issues = json_schema_issues({**GOOD_ORDER, "ship": {"sku": "ABC-1"}}, PYDANTIC_ORDER)
    assert issues == [Issue("ship.qty", "is required but missing")]
    issues = json_schema_issues({**GOOD_ORDER, "note": 5}, PYDANTIC_ORDER)
    assert issues == [Issue("note", "expected a string or null, got 5")]


def test_missing_required_fields_and_a_wrong_root_type() -> None:
    assert paths(json_schema_issues({}, PYDANTIC_ORDER)) == ["id", "items"]
    assert json_schema_issues([1], PYDANTIC_ORDER) == [
        Issue("", "expected an object, got an array")
    ]


def test_tuples_are_checked_by_position_and_length() -> None:
    issues = json_schema_issues({**GOOD_ORDER, "pair": ["1", "y", 3]}, PYDANTIC_ORDER)
    assert issues == [
        Issue("pair", "must have at most 2 item(s), got 3"),
        Issue("pair.0", 'expected an integer, got the string "1"'),
    ]


def test_a_msgspec_schema_whose_root_is_a_ref() -> None:
    good = {"to": "a@b", "subject": "hi", "attachments": [{"name": "x", "size": 1.5}]}
    assert json_schema_issues(good, MSGSPEC_EMAIL) == []
    bad = {"to": "a", "retries": 1.5, "attachments": [{"name": "x", "size": 0}], "cc": []}
    assert json_schema_issues(bad, MSGSPEC_EMAIL) == [
        Issue("subject", "is required but missing"),
        Issue("to", "must be at least 3 character(s) long, got 1"),
        Issue("retries", "expected an integer or null, got 1.5"),
        Issue("attachments.0.size", "must be > 0, got 0"),
        Issue("cc", "is not an allowed field (allowed: attachments, retries, subject, to)"),
    ]


@pytest.mark.parametrize(
    ("value", "kind", "ok"),
    [
        (1, "integer", True),
        # 1.0 is a float to json.loads, and msgspec and the dataclass checker refuse it for int
        (1.0, "integer", False),
        (1e300, "integer", False),
        (1.5, "integer", False),
        (True, "integer", False),
        (True, "number", False),
        (2.5, "number", True),
        (None, "null", True),
        (0, "null", False),
        ("", "string", True),
        (False, "boolean", True),
        (0, "boolean", False),
        ((1, 2), "array", True),
    ],
)
def test_json_types_are_strict(value: Any, kind: str, ok: bool) -> None:
    assert (json_schema_issues(value, {"type": kind}) == []) is ok


def test_enum_and_const_do_not_take_true_for_1() -> None:
    assert json_schema_issues(True, {"enum": [1, 2]}) != []
    assert json_schema_issues(1.0, {"enum": [1, 2]}) == []
    assert json_schema_issues(1, {"const": True}) == [Issue("", "must be true, got 1")]
    assert json_schema_issues({"a": [1]}, {"const": {"a": [1]}}) == []


def test_type_lists_one_of_and_all_of() -> None:
    assert json_schema_issues(None, {"type": ["integer", "null"]}) == []
    assert json_schema_issues("x", {"type": ["integer", "null"]}) == [
        Issue("", 'expected an integer or null, got the string "x"')
    ]
    both = {"oneOf": [{"type": "number"}, {"type": "integer"}]}
    assert json_schema_issues(2.5, both) == []
    assert json_schema_issues(2, both) == [
        Issue("", "matches 2 of the allowed shapes; it must match exactly one")
    ]
    bounded = {"allOf": [{"minimum": 1}, {"maximum": 3}]}
    assert json_schema_issues(4, bounded) == [Issue("", "must be <= 3, got 4")]


def test_a_tagged_union_reports_the_branch_of_the_value_type() -> None:
    # msgspec tagged unions: anyOf of refs, each struct with an enum'd tag field
    schema = {
        "anyOf": [{"$ref": "#/$defs/Cat"}, {"$ref": "#/$defs/Dog"}],
        "discriminator": {"propertyName": "type", "mapping": {}},
        "$defs": {
            "Cat": {
                "type": "object",
                "properties": {"type": {"enum": ["cat"]}, "lives": {"type": "integer"}},
                "required": ["type", "lives"],
            },
            "Dog": {
                "type": "object",
                "properties": {"type": {"enum": ["dog"]}},
                "required": ["type"],
            },
        },
    }
    assert json_schema_issues({"type": "dog"}, schema) == []
    # both branches are objects: the closest one (fewest issues) speaks
    assert json_schema_issues({"type": "cat"}, schema) == [
        Issue("lives", "is required but missing")
    ]


def test_recursive_models_and_the_definitions_spelling() -> None:
    tree = {
        "$ref": "#/definitions/Node",
        "definitions": {
            "Node": {
                "type": "object",
                "properties": {
                    "value": {"type": "integer"},
                    "children": {"type": "array", "items": {"$ref": "#/definitions/Node"}},
                },
                "required": ["value"],
            }
        },
    }
    value = {"value": 1, "children": [{"value": 2, "children": [{"value": "3"}]}]}
    assert json_schema_issues(value, tree) == [
        Issue("children.0.children.0.value", 'expected an integer, got the string "3"')
    ]
    assert json_schema_issues(1, {"$ref": "#"}) == []  # a self-loop ends


def test_annotations_and_unknown_keywords_are_ignored() -> None:
    schema = {"type": "string", "format": "email", "x-newer": {"a": 1}, "default": 3}
    assert json_schema_issues("not an email", schema) == []
    assert json_schema_issues(1, True) == []
    assert json_schema_issues(1, False) == [Issue("", "no value is allowed here")]


def test_a_broken_schema_is_a_usage_error_not_an_issue() -> None:
    with pytest.raises(UsageError, match="does not define"):
        json_schema_issues({}, {"$ref": "#/$defs/Missing"})
    with pytest.raises(UsageError, match="pattern"):
        json_schema_issues("x", {"type": "string", "pattern": "("})


def test_importing_it_pulls_in_no_validator_package() -> None:
    code = (
        "import sys, taskora_cli.json_schema; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('jsonschema', 'pydantic', 'msgspec', 'redis')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_wrong_type_for_an_enum_lists_the_allowed_values() -> None:
    issues = json_schema_issues({**GOOD_ORDER, "color": 3, "kind": None}, PYDANTIC_ORDER)
    assert issues == [
        Issue("color", 'must be one of "red", "blue"; got 3'),
        Issue("kind", 'must be one of "a", "b"; got null'),
    ]


def test_the_draft_07_tuple_spelling() -> None:
    schema = {"type": "array", "items": [{"type": "integer"}], "additionalItems": False}
    assert json_schema_issues([1], schema) == []
    assert json_schema_issues(["x", 2], schema) == [
        Issue("0", 'expected an integer, got the string "x"'),
        Issue("", "must have at most 1 item(s), got 2"),
    ]


# --- what a review found -------------------------------------------------------------------


def test_unique_items_is_ignored_as_the_libraries_that_emit_it_do() -> None:
    # pydantic, msgspec and the dataclass checker write uniqueItems for set[...] fields, yet
    # all of them accept a list with repeats (and make a set of it)
    schema = {"type": "array", "items": {"type": "integer"}, "uniqueItems": True}
    assert json_schema_issues([1, 1, 2], schema) == []
    assert json_schema_issues(list(range(8000)) * 2, schema) == []


@pytest.mark.parametrize(
    ("pattern", "text"),
    [
        ("^[A-Z]+$", "AB\n"),
        ("^[A-Z]+$", "AB"),
        ("^a[$]$", "a$"),
        ("^a[$]$", "a$\n"),
        (r"^a\$$", "a$"),
        (r"^a\$$", "a$\n"),
        ("^(x|y$)", "y\n"),
        ("^[]$]+$", "$]"),
        ("^[^]$]+$", "ab\n"),
    ],
)
def test_pattern_ends_match_where_pydantic_says(pattern: str, text: str) -> None:
    import pydantic

    adapter = pydantic.TypeAdapter(Annotated[str, pydantic.StringConstraints(pattern=pattern)])
    try:
        adapter.validate_python(text)
        pydantic_accepts = True
    except pydantic.ValidationError:
        pydantic_accepts = False
    schema = {"type": "string", "pattern": pattern}
    assert (json_schema_issues(text, schema) == []) is pydantic_accepts


def test_multiple_of_is_exact_for_integers() -> None:
    assert json_schema_issues(2**60 + 1, {"type": "integer", "multipleOf": 3}) != []
    assert json_schema_issues(2**60 + 2, {"type": "integer", "multipleOf": 3}) == []
    assert json_schema_issues(10**400, {"multipleOf": 0.5}) == []
    assert json_schema_issues(0.3, {"multipleOf": 0.1}) == []
    assert json_schema_issues(0.35, {"multipleOf": 0.1}) != []


NODE = {
    "$defs": {
        "Node": {
            "properties": {
                "value": {"title": "Value", "type": "integer"},
                "next": {"anyOf": [{"$ref": "#/$defs/Node"}, {"type": "null"}], "default": None},
            },
            "required": ["value"],
            "title": "Node",
            "type": "object",
        }
    },
    "$ref": "#/$defs/Node",
}


def chain(depth: int) -> dict[str, Any]:
    node: dict[str, Any] = {"value": 0}
    for index in range(depth):
        node = {"value": index, "next": node}
    return node


def test_data_nested_too_deep_to_check_is_an_issue_not_a_crash() -> None:
    assert json_schema_issues(chain(100), NODE) == []
    issues = json_schema_issues(chain(5000), NODE)
    assert len(issues) == 1 and "nested too deeply" in issues[0].message
