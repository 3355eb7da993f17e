"""Every key a script touches comes from its KEYS (the rule and the checker's limits:
lua/README.md and keys_declared.py), so each script touches only the slot of the keys it
declares and runs unchanged on Redis Cluster."""

from __future__ import annotations

import re

import pytest
from keys_declared import Script
from servers import raw_client
from slots import crc16, hash_slot

from taskora_cli.engine.scripts import SCRIPT_NAMES, load_script, lua_dir


@pytest.mark.parametrize("name", SCRIPT_NAMES)
def test_every_key_a_script_touches_comes_from_its_keys(name: str) -> None:
    found = list(Script(load_script(name).source).undeclared())
    assert found == [], f"{name}.lua touches keys it does not declare in KEYS:\n" + "\n".join(found)


def test_every_lib_file_is_checked_through_a_script_that_includes_it() -> None:
    included = {
        match
        for path in lua_dir().glob("*.lua")
        for match in re.findall(r"^--@include (\S+)", path.read_text(), re.MULTILINE)
    }
    libs = {f"lib/{path.name}" for path in (lua_dir() / "lib").glob("*.lua")}
    assert libs - included == set(), "a lib file no script includes is never checked"


BAD = {
    "a key from ARGV": 'redis.call("GET", ARGV[1])',
    "a literal key": 'redis.call("DEL", KEYS[1], "taskora:x")',
    "a key built on ARGV": 'local k = ARGV[1] .. ":x"\nredis.call("HSET", k, "a", 1)',
    "a key read from the server": 'local k = redis.call("GET", KEYS[1])\nredis.call("DEL", k)',
    "a parameter one caller passes from ARGV": (
        'local function f(key) return redis.call("GET", key) end\nf(KEYS[1])\nf(ARGV[2])'
    ),
    "a helper that returns a literal": (
        'local function k(id) return "taskora:" .. id end\nredis.call("GET", k(ARGV[1]))'
    ),
    "an unpacked table holding a literal": (
        'local t = {}\nt[#t + 1] = KEYS[1]\nt[#t + 1] = "x"\nredis.call("DEL", unpack(t))'
    ),
    "a command that is not a literal": "redis.call(ARGV[1], KEYS[1])",
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_the_checker_catches(case: str) -> None:
    assert list(Script(BAD[case]).undeclared()) != []


def test_the_checker_accepts_keys_derived_from_keys() -> None:
    source = """
local tag, keys = KEYS[3], { wait = KEYS[1] }
local function job_key(prefix, id)
  return prefix .. "j:" .. id
end
local job = job_key(tag, ARGV[1])
redis.call("DEL", job, job .. ":logs", keys.wait, KEYS[2])
redis.call("PUBLISH", ARGV[2], "x")
"""
    assert list(Script(source).undeclared()) == []


def test_hash_slots_match_redis_cluster() -> None:
    # the examples of the Redis Cluster specification, and a task's keys and prefix
    assert [hash_slot(key) for key in ("123456789", "foo", "bar", "hello")] == [
        12739,
        12182,
        5061,
        866,
    ]
    assert hash_slot("{user1000}.following") == hash_slot("{user1000}.followers")
    assert hash_slot("foo{}{bar}") == crc16(b"foo{}{bar}") % 16384  # an empty tag: whole key
    assert (
        hash_slot("taskora:app:{mail}:j:1")
        == hash_slot("taskora:app:{mail}:")
        == (hash_slot("mail"))
    )


def test_every_script_sha_is_the_one_the_server_computes(redis_url: str) -> None:
    # EVALSHA with a wrong hash would only ever fall back to loading the script (NOSCRIPT):
    # every call would pay two round trips, and no test would fail.
    client = raw_client(redis_url, decode_responses=True)
    try:
        for name in SCRIPT_NAMES:
            script = load_script(name)
            assert client.script_load(script.source) == script.sha, name
    finally:
        client.close()
