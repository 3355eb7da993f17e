"""define_task's checks, the published ContractDocument and the options it rebuilds."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

import pytest

from taskora_cli.contract import TaskContract, define_task
from taskora_cli.contract_document import FORMAT, ContractDocument
from taskora_cli.errors import Issue, UsageError, ValidationError, WireFormatError
from taskora_cli.flow import Collect, Ttl
from taskora_cli.retry import Retry

EMAIL_SCHEMA = {
    "properties": {"to": {"type": "string"}},
    "required": ["to"],
    "title": "Email",
    "type": "object",
}


@dataclass
class Email:  # the contract keeps it as given (checked to be a schema, not adapted)
    to: str


@dataclass
class Receipt:
    id: str


def full_contract() -> TaskContract:
    return define_task(
        "send-email",
        input=Email,
        output=Receipt,
        retry=Retry(attempts=4, backoff="linear", delay="2s", max_delay="1m", jitter=False),
        timeout="30s",
        queue="mail",
        ttl={"max": "1h", "on_expire": "discard"},
        concurrency_limit=3,
        version=3,
        since=2,
        migrate={3: lambda data: data},
    )


def test_define_task_keeps_schemas_as_given_and_parses_options() -> None:
    contract = full_contract()
    assert contract.input is Email and contract.output is Receipt
    assert contract.timeout_ms == 30_000
    assert contract.ttl == Ttl(3_600_000, "discard")
    batched = define_task(
        "b", collect={"key": "batch", "delay": "5s", "max_size": 10, "max_wait": "1m"}
    )
    assert batched.collect == Collect("batch", 5000, 10, 60_000)
    assert (contract.since, contract.version) == (2, 3)
    assert [target for target, _ in contract.migrations] == [3]
    options = contract.task_options(concurrency=4)
    assert (options.queue, options.concurrency, options.concurrency_limit) == ("mail", 4, 3)
    assert options.retry == contract.retry and options.ttl == contract.ttl


def test_define_task_refuses_what_cannot_be_a_schema_in_the_shared_module() -> None:
    with pytest.raises(UsageError, match="schema"):
        define_task("typo", input=int)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "send email"}, "task name"),
        ({"name": "a:b"}, "task name"),
        ({"retry": {"attempts": 3}}, "Retry"),
        ({"timeout": "soon"}, "timeout"),
        ({"queue": "a:b"}, "queue name"),
        ({"singleton": True, "concurrency_limit": 2}, "singleton"),
        ({"concurrency_limit": 0}, "concurrency_limit"),
        ({"ttl": {"max": "1h", "on_expire": "later"}}, "on_expire"),
        ({"collect": {"key": "k"}}, "delay"),
        ({"version": 0}, "version"),
        ({"version": True}, "version"),
        ({"version": 2, "since": 3}, "since"),
        ({"version": 3, "migrate": {5: str}}, "newer than version"),
        ({"version": 3, "migrate": {3: "nope"}}, "function"),
        ({"since": 1, "version": 5, "migrate": [str, str]}, "does not match"),
        ({"version": 2, "collect": {"key": "k", "delay": "1s"}}, "collects"),
        ({"migrate": "v2"}, "migrate"),
    ],
)
def test_define_task_rejects_bad_options(kwargs: dict[str, Any], message: str) -> None:
    kwargs = {"name": "t", **kwargs}
    with pytest.raises(UsageError, match=message):
        define_task(**kwargs)


def test_versions_follow_the_migrations() -> None:
    listed = define_task("t", since=2, migrate=[str, str])
    assert (listed.since, listed.version) == (2, 4)
    assert [target for target, _ in listed.migrations] == [3, 4]
    sparse = define_task("t", version=3, migrate={3: str, 2: str})
    assert (sparse.since, sparse.version) == (1, 3)
    assert [target for target, _ in sparse.migrations] == [2, 3]
    plain = define_task("t")
    assert (plain.since, plain.version, plain.migrations) == (1, 1, ())


def test_the_document_round_trips_through_json() -> None:
    document = full_contract().document(input_schema=EMAIL_SCHEMA, published_at_ms=1234)
    text = document.to_json()
    assert json.loads(text)["format"] == FORMAT
    assert ContractDocument.from_json(text) == document
    assert document.options == {
        "retry": {
            "attempts": 4,
            "backoff": "linear",
            "delay_ms": 2000,
            "max_delay_ms": 60_000,
            "jitter": False,
            "retry_on": [],
            "no_retry_on": [],
        },
        "timeout_ms": 30_000,
        "ttl": {"max_ms": 3_600_000, "on_expire": "discard"},
        "singleton": False,
        "concurrency_limit": 3,
        "collect": None,
    }
    assert (document.version, document.since, document.queue) == (3, 2, "mail")
    assert document.input_schema == EMAIL_SCHEMA and document.output_schema is None


def test_a_newer_writers_unknown_fields_are_ignored() -> None:
    body = json.loads(full_contract().document(published_at_ms=5).to_json())
    body["implemented_by"] = ["w1"]
    body["options"]["rate_limit"] = {"max": 5}
    read = ContractDocument.from_json(json.dumps(body))
    assert read.name == "send-email" and read.version == 3
    assert read.task_options().concurrency_limit == 3
    minimal = ContractDocument.from_json('{"name": "x", "version": null}')
    assert (minimal.queue, minimal.version, minimal.since, minimal.format) == ("default", 1, 1, 1)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not json", "not JSON"),
        ('{"queue": "q"}', "no task name"),
        ('{"name": "x", "version": "3"}', "bad 'version'"),
        ('{"name": "x", "version": true}', "bad 'version'"),
        ('{"name": "x", "format": 99}', "format 99"),
        ('{"name": "x", "queue": "a b:{c}"}', "bad queue"),
        ("[" * 100_000, "not JSON"),  # nested past the parser's recursion limit
    ],
)
def test_unreadable_documents_are_wire_format_errors(text: str, message: str) -> None:
    with pytest.raises(WireFormatError, match=message):
        ContractDocument.from_json(text)


def test_task_options_rebuild_what_a_by_name_producer_applies() -> None:
    contract = full_contract()
    rebuilt = ContractDocument.from_json(contract.document().to_json()).task_options()
    original = contract.task_options()
    plain = {"retry": None, "versioning": original.versioning}  # steps stay with the code
    assert rebuilt._replace(**plain) == original._replace(**plain)
    assert (rebuilt.versioning.version, rebuilt.versioning.since) == (3, 2)
    assert rebuilt.retry is not None and original.retry is not None
    # the same policy, its durations now in seconds
    assert [rebuilt.retry.delay_ms(n) for n in (1, 2, 3)] == [2000, 4000, 6000]
    assert [original.retry.delay_ms(n) for n in (1, 2, 3)] == [2000, 4000, 6000]
    assert (rebuilt.retry.attempts, rebuilt.retry.max_delay) == (4, 60.0)
    single = define_task("s", singleton=True, ttl="10m").document().task_options()
    assert single.singleton and single.ttl == Ttl(600_000, "fail")


def test_out_of_range_options_in_a_document_are_dropped_not_applied() -> None:
    options = {
        "ttl": {"max_ms": -5, "on_expire": "fail"},
        "timeout_ms": -1,
        "collect": {"key": "k", "delay_ms": -1, "max_size": -3, "max_wait_ms": -2},
        "retry": {"attempts": 3, "backoff": "fixed", "delay_ms": 10**400, "max_delay_ms": None},
    }
    text = json.dumps({"name": "x", "options": options})
    rebuilt = ContractDocument.from_json(text).task_options()
    assert (rebuilt.ttl, rebuilt.timeout_ms, rebuilt.collect, rebuilt.retry) == (None,) * 4


def test_a_document_is_strict_json_or_a_clear_error() -> None:
    schema = {"type": "object", "properties": {"x": {"type": "number", "default": float("inf")}}}
    document = replace(define_task("x").document(), input_schema=schema)
    with pytest.raises(UsageError, match="inf or nan"):
        document.to_json()


def test_a_retry_with_python_only_parts_is_described_but_not_rebuilt() -> None:
    retry = Retry(attempts=5, backoff=lambda attempt: 1.0, retry_on=(TimeoutError,))
    document = define_task("r", retry=retry).document()
    assert document.options["retry"]["backoff"] == "custom"
    assert document.options["retry"]["retry_on"] == ["builtins.TimeoutError"]
    assert document.task_options().retry is None


def user_key(item: dict[str, Any]) -> str:
    return str(item["user"])


def test_a_collect_key_function_cannot_travel_so_a_by_name_dispatch_is_refused() -> None:
    document = define_task("c", collect={"key": user_key, "delay": "1s"}).document()
    assert document.options["collect"]["key"] is None
    assert document.options["collect"]["key_function"].endswith("test_task_contract.user_key")
    collect = ContractDocument.from_json(document.to_json()).task_options().collect
    assert collect is not None and collect.delay_ms == 1000
    with pytest.raises(UsageError, match="cannot compute it"):
        collect.key_for({"user": 1})


def test_implement_overrides_are_what_gets_published() -> None:
    contract = define_task("o", queue="a")
    document = contract.document(options=contract.task_options()._replace(queue="b"))
    assert document.queue == "b"


def test_check_input_validates_against_the_published_schema() -> None:
    document = define_task("send-email").document(input_schema=EMAIL_SCHEMA)
    document.check_input({"to": "a@b"})
    with pytest.raises(ValidationError) as caught:
        document.check_input({"to": 1, "cc": 2})
    assert caught.value.task == "send-email"
    assert caught.value.issues == [Issue("to", "expected a string, got 1")]
    define_task("untyped").document().check_input(object())  # no schema: nothing to check
