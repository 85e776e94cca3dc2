"""Operator use cases on the embedded system, through Commands: who may manage operators, what
receipts keep (never the recovery codes), what a retried request gets back."""

from __future__ import annotations

import uuid

import pyotp
import pytest

from application.accounts import TokenAlreadyIssued
from application.errors import NotFound
from domain import ids
from domain.account import EmailTaken, InvalidCredentials, TotpInvalid
from domain.cause import Cause
from domain.errors import IdempotencyKeyReused
from domain.receipt import Receipt
from domain.staff import OperatorLocked, PermissionDenied, StepUpInvalid, StepUpRequired
from infrastructure.bootstrap import System
from tests.conftest import SteppingClock

PASSWORD = "operator passphrase 42"
CLI = "system:cli"


def cause(actor: str = CLI, request_id: str | None = None, reason: str = "") -> Cause:
    return Cause(actor, request_id or uuid.uuid4().hex, reason)


class Desk:
    """An operator made and enrolled through the use cases, with the clock stepping so that
    each TOTP code is fresh."""

    def __init__(self, system: System, clock: SteppingClock, roles: list[str]) -> None:
        self.system = system
        self.clock = clock
        self.email = f"op{uuid.uuid4().hex[:8]}@example.org"
        view = system.operators.create(self.email, PASSWORD, roles, cause())
        self.operator_id = view.operator_id
        self.actor = f"operator:{view.operator_id}"
        self.secret = system.operators.start_totp(self.operator_id, cause(self.actor)).secret
        self.codes = system.operators.enable_totp(self.operator_id, self.code(), cause(self.actor))

    def code(self) -> str:
        self.clock.advance(seconds=30)
        return pyotp.TOTP(self.secret).at(self.clock.now)


def test_only_an_operator_with_operators_manage_changes_other_operators(
    embedded: System, clock: SteppingClock
) -> None:
    admin = Desk(embedded, clock, ["admin"])
    finance = Desk(embedded, clock, ["finance"])
    viewer = Desk(embedded, clock, ["viewer"])
    operators = embedded.operators

    with pytest.raises(PermissionDenied):
        operators.change_roles(viewer.operator_id, ["admin"], cause(finance.actor))
    with pytest.raises(PermissionDenied):
        operators.create("x@example.org", PASSWORD, ["admin"], cause(finance.actor))
    with pytest.raises(PermissionDenied):
        operators.change_roles(viewer.operator_id, ["admin"], cause("operator:not-a-uuid"))
    changed = operators.change_roles(viewer.operator_id, ["risk"], cause(admin.actor))

    assert changed.roles == ["risk"]
    operators.disable(admin.operator_id, cause(CLI))
    with pytest.raises(PermissionDenied):  # a disabled admin manages no one
        operators.force_logout(viewer.operator_id, cause(admin.actor))


def test_recovery_codes_are_shown_once_and_never_kept_in_the_receipt(
    embedded: System, clock: SteppingClock
) -> None:
    op = Desk(embedded, clock, ["viewer"])
    retry = cause(op.actor, "new-codes-1")

    issued = embedded.operators.issue_recovery_codes(op.operator_id, retry)

    receipt: object = embedded.ledger.repository.get(ids.receipt_id(op.actor, "new-codes-1"))
    assert isinstance(receipt, Receipt)
    assert not any(code in str(receipt.outcome) for code in issued.codes)
    with pytest.raises(TokenAlreadyIssued):
        embedded.operators.issue_recovery_codes(op.operator_id, retry)
    assert len(set(issued.codes)) == 10


def test_a_wrong_step_up_counts_towards_the_lock(embedded: System, clock: SteppingClock) -> None:
    op = Desk(embedded, clock, ["admin"])
    operators = embedded.operators

    with pytest.raises(StepUpRequired):
        operators.step_up(op.operator_id, None, cause(op.actor))
    for _ in range(5):
        with pytest.raises(StepUpInvalid):
            operators.step_up(op.operator_id, "000000", cause(op.actor))

    with pytest.raises(OperatorLocked):
        operators.step_up(op.operator_id, op.code(), cause(op.actor))
    with pytest.raises(OperatorLocked):
        operators.login(op.email, PASSWORD, "ip", "ua", cause(), totp_code=op.code())


def test_a_retried_step_up_passes_with_its_first_code_and_only_for_its_action(
    embedded: System, clock: SteppingClock
) -> None:
    admin = Desk(embedded, clock, ["admin"])
    viewer = Desk(embedded, clock, ["viewer"])
    operators = embedded.operators
    request = cause(admin.actor, "roles-1", "promotion")
    code = admin.code()
    operators.step_up(admin.operator_id, code, request, "PUT roles")
    operators.change_roles(viewer.operator_id, ["support"], request)

    operators.step_up(admin.operator_id, code, request, "PUT roles")  # the client's retry

    with pytest.raises(StepUpRequired):
        operators.step_up(admin.operator_id, None, request, "PUT roles")
    with pytest.raises(StepUpInvalid):  # the same request and code prove nothing elsewhere
        operators.step_up(admin.operator_id, code, request, "POST disable")
    again = operators.change_roles(viewer.operator_id, ["support"], request)
    assert again.roles == ["support"]
    with pytest.raises(IdempotencyKeyReused):
        operators.change_roles(viewer.operator_id, ["finance"], request)


def test_a_login_retry_with_another_code_is_refused_not_replayed(
    embedded: System, clock: SteppingClock
) -> None:
    op = Desk(embedded, clock, ["viewer"])
    request = cause("system:operator-login", "login-1")
    first = embedded.operators.login(op.email, PASSWORD, "ip", "ua", request, totp_code=op.code())

    with pytest.raises(IdempotencyKeyReused):
        embedded.operators.login(op.email, PASSWORD, "ip", "ua", request, totp_code=op.code())
    assert embedded.operators.session(op.operator_id, first.session_id) is not None


def test_wrong_credentials_and_unknown_operators(embedded: System, clock: SteppingClock) -> None:
    op = Desk(embedded, clock, ["viewer"])
    operators = embedded.operators

    with pytest.raises(InvalidCredentials):
        operators.login("nobody@example.org", PASSWORD, "ip", "ua", cause())
    with pytest.raises(TotpInvalid):
        operators.login(op.email, PASSWORD, "ip", "ua", cause(), totp_code="000000")
    with pytest.raises(EmailTaken):
        operators.create(op.email.upper(), PASSWORD, ["viewer"], cause())
    with pytest.raises(NotFound):
        operators.operator(str(uuid.uuid4()))
    assert operators.session("not-a-uuid", "s") is None
    assert [v.email for v in operators.operators()] == [op.email]
