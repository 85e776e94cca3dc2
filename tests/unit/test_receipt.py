"""Receipt: a retried request gets the first outcome again, success or refusal."""

from __future__ import annotations

import pytest

from domain import errors, ids
from domain.cause import Cause
from domain.errors import DomainError, IdempotencyKeyReused, InsufficientFunds
from domain.receipt import Receipt, error_for_code
from tests.unit.conftest import names, payload

CAUSE = Cause("player:p1", "req-1")
OUTCOME = {"wallet_id": "w-1", "available": 4_500}
ERROR_CLASSES = [getattr(errors, name) for name in errors.__all__]


def given_accepted() -> Receipt:
    receipt = Receipt.accepted("lock_withdrawal", "fp-1", dict(OUTCOME), CAUSE)
    receipt.collect_events()
    return receipt


def given_refused(error: DomainError) -> Receipt:
    receipt = Receipt.refused("lock_withdrawal", "fp-1", error, CAUSE)
    receipt.collect_events()
    return receipt


def test_accepted_records_the_outcome_at_the_requests_stream():
    receipt = Receipt.accepted("lock_withdrawal", "fp-1", dict(OUTCOME), CAUSE)

    events = receipt.collect_events()
    assert names(events) == ["Recorded"]
    assert payload(events[0]) == {
        "command": "lock_withdrawal",
        "fingerprint": "fp-1",
        "outcome": OUTCOME,
        "error_code": None,
        "error_message": None,
        "actor": "player:p1",
        "request_id": "req-1",
        "reason": "",
    }
    assert receipt.id == ids.receipt_id("player:p1", "req-1")


def test_a_receipt_keeps_the_reason_of_the_request_for_the_audit_log():
    cause = Cause("operator:alice", "req-9", reason="charge-back from the bank")

    receipt = Receipt.accepted("reverse_deposit", "fp-9", {}, cause)

    assert payload(receipt.collect_events()[0])["reason"] == "charge-back from the bank"
    assert receipt.reason == "charge-back from the bank"


def test_a_receipt_recorded_before_reasons_were_kept_replays_with_an_empty_reason():
    receipt = Receipt.accepted("lock_withdrawal", "fp-1", dict(OUTCOME), CAUSE)
    state = payload(receipt.collect_events()[0])
    del state["reason"]

    old = Receipt(**state)

    assert old.reason == ""
    assert old.replay("lock_withdrawal", "fp-1") == OUTCOME


def test_refused_records_the_error_code_and_message():
    receipt = Receipt.refused("lock_withdrawal", "fp-1", InsufficientFunds("only 10"), CAUSE)

    events = receipt.collect_events()
    assert names(events) == ["Recorded"]
    assert payload(events[0])["outcome"] is None
    assert payload(events[0])["error_code"] == "insufficient_funds"
    assert payload(events[0])["error_message"] == "only 10"


def test_replay_of_an_accepted_request_returns_the_outcome_and_records_nothing():
    receipt = given_accepted()

    first = receipt.replay("lock_withdrawal", "fp-1")
    second = receipt.replay("lock_withdrawal", "fp-1")

    assert first == OUTCOME
    assert second == OUTCOME
    assert receipt.collect_events() == []


def test_every_domain_error_has_its_own_code():
    codes = [cls.code for cls in ERROR_CLASSES]
    assert len(codes) == len(set(codes)) == len(errors.__all__)


@pytest.mark.parametrize("error_class", ERROR_CLASSES, ids=lambda c: c.__name__)
def test_replay_of_a_refused_request_raises_the_same_error_again(error_class):
    receipt = given_refused(error_class("first answer"))

    with pytest.raises(DomainError) as excinfo:
        receipt.replay("lock_withdrawal", "fp-1")

    assert type(excinfo.value) is error_class
    assert excinfo.value.code == error_class.code
    assert excinfo.value.message == "first answer"
    assert str(excinfo.value) == "first answer"
    assert receipt.collect_events() == []


@pytest.mark.parametrize(
    ("command", "fingerprint"),
    [
        ("lock_withdrawal", "fp-2"),
        ("start_deposit", "fp-1"),
        ("start_deposit", "fp-2"),
    ],
)
@pytest.mark.parametrize("outcome", ["accepted", "refused"])
def test_replay_with_a_different_request_is_refused_as_key_reuse(command, fingerprint, outcome):
    receipt = given_accepted() if outcome == "accepted" else given_refused(InsufficientFunds("x"))

    with pytest.raises(IdempotencyKeyReused) as excinfo:
        receipt.replay(command, fingerprint)

    assert excinfo.value.code == "idempotency_key_reused"
    assert receipt.collect_events() == []


def test_an_unknown_code_comes_back_as_a_plain_domain_error_with_that_code():
    error = error_for_code("gone_fishing", "no idea")

    assert type(error) is DomainError
    assert error.code == "gone_fishing"
    assert error.message == "no idea"


def test_a_subclass_that_inherits_a_code_does_not_take_it_over():
    class Wrapper(DomainError):  # declares no code of its own, and another constructor
        def __init__(self, outcome: object) -> None:
            super().__init__(f"wrapped {outcome}")

    error = error_for_code("domain_error", "first answer")

    assert type(error) is DomainError
    assert Wrapper.code == "domain_error"
