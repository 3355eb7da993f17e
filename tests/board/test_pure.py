"""The board's pure parts: the redactor and the session cookie's signature."""

from __future__ import annotations

from taskora_cli.board.redaction import MASK, Redactor
from taskora_cli.board.session import sign, verify

SECRET = "k" * 32


def test_redaction_masks_any_case_at_any_depth_and_keeps_the_input() -> None:
    redact = Redactor(["Password", "apiKey"])
    given = {"user": {"PASSWORD": "p", "keys": [{"apikey": 1}, ("x", {"password": None})]}, 3: 4}
    assert redact(given) == {
        "user": {"PASSWORD": MASK, "keys": [{"apikey": MASK}, ["x", {"password": MASK}]]}, 3: 4,
    }  # fmt: skip
    assert given["user"]["PASSWORD"] == "p"
    assert Redactor()(given) is given  # nothing configured: nothing copied
    assert redact.label("password", "v") == MASK and redact.label("task", "v") == "v"


def test_a_cookie_names_its_user_until_it_expires_and_only_with_its_secret() -> None:
    value = sign(SECRET, "ops", expires_ms=2_000)
    assert verify(SECRET, value, now_ms=1_999) == "ops"
    assert verify(SECRET, value, now_ms=2_000) is None  # expired
    assert verify("x" * 32, value, now_ms=0) is None  # another secret
    body, _, mac = value.partition(".")
    forged = sign("x" * 32, "admin", None).partition(".")[0]
    assert verify(SECRET, f"{forged}.{mac}", now_ms=0) is None
    assert verify(SECRET, sign(SECRET, "ops", None), now_ms=10**15) == "ops"  # no expiry
    for junk in ("", ".", "abc", "a.b.c", f"{body}."):
        assert verify(SECRET, junk, now_ms=0) is None
