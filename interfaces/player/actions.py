"""The player's commands that take more than one use case call, shared by the REST API and the
web pages so that both take exactly the same path: registering (with the verification mail),
starting a deposit with its checkout, the sandbox checkout's pay/decline, and withdrawing (with
the TOTP step-up from the large-amount threshold)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from application.accounts import AccountView
from application.payments import Checkout, WebhookOutcome
from application.results import DepositStatus, WithdrawalStatus
from domain.cause import Cause
from infrastructure.bootstrap import System
from infrastructure.notifier import Outbox
from infrastructure.sandbox_payments import SandboxProvider
from interfaces.player.security import Caller
from interfaces.player.switches import require_open
from interfaces.player.views import own_deposit, own_withdrawal

__all__ = [
    "StartedDeposit",
    "cancel_withdrawal",
    "pay_sandbox_checkout",
    "register_player",
    "request_withdrawal",
    "start_deposit",
]


def _cause(actor: str) -> Cause:
    return Cause(actor, f"req-{uuid.uuid4().hex}")


def register_player(
    system: System,
    outbox: Outbox,
    email: str,
    password: str,
    ip: str = "",
    referrer: str | None = None,
) -> AccountView:
    """Create the account and its wallet, and mail a verification code to the address.
    ``ip``: the client's address (recorded; a limited number of accounts per address).
    ``referrer``: the referring player's id or referral code, if any."""
    require_open(system, "registration")
    view = system.accounts.register(email, password, _cause("system:signup"), ip, referrer)
    token = system.accounts.request_email_verification(
        view.account_id, _cause(f"player:{view.player_id}")
    )
    outbox.enqueue(
        f"verify:{token.account_id}:{token.expires_at.isoformat()}",
        token.email,
        "Confirm your e-mail address",
        f"Confirm your address with this code (valid for 48 hours):\n\n{token.token}\n",
    )
    return view


@dataclass(frozen=True, slots=True)
class StartedDeposit:
    deposit: DepositStatus
    checkout: Checkout


def start_deposit(
    system: System,
    caller: Caller,
    amount_minor: int,
    currency: str | None,
    provider: str,
    idempotency_key: str,
) -> StartedDeposit:
    """Record the deposit (it counts against the limits at once) and open the provider's
    checkout. The same key replays the first outcome."""
    require_open(system, "deposits")
    cause = Cause(caller.actor, idempotency_key)
    deposit = system.deposits.request(
        caller.player_id,
        amount_minor,
        currency or system.settings.policy.currency,
        provider,
        cause,
    )
    checkout = system.payments.start(deposit, cause)
    return StartedDeposit(system.deposits.status(uuid.UUID(deposit.deposit_id)), checkout)


def sandbox_provider(system: System) -> SandboxProvider | None:
    """The built-in sandbox provider, when this deployment enables it."""
    try:
        provider = system.payments.provider("sandbox")
    except Exception:
        return None
    return provider if isinstance(provider, SandboxProvider) else None


def pay_sandbox_checkout(
    system: System, caller: Caller, provider_ref: str, pay: bool
) -> WebhookOutcome | None:
    """Pay or decline at the sandbox checkout: the provider signs its webhook and delivers it
    through the same handler a real provider's webhook takes. None: no sandbox here."""
    provider = sandbox_provider(system)
    if provider is None:
        return None
    checkout = provider.checkout(provider_ref)
    own_deposit(system, caller, checkout.deposit_id)
    outcome = "pay" if pay else "decline"
    # One event per checkout and outcome: paying twice is a duplicate delivery, not a 2nd credit.
    headers, body = provider.complete(
        provider_ref,
        succeeded=pay,
        event_id=f"evt_{outcome}_{uuid.UUID(checkout.deposit_id).hex}",
    )
    return system.payments.receive("sandbox", headers, body)


def request_withdrawal(
    system: System,
    caller: Caller,
    amount_minor: int,
    payout_method_id: str,
    currency: str | None,
    totp_code: str | None,
    idempotency_key: str,
) -> WithdrawalStatus:
    """Lock the amount for a payout to one of the player's methods. From the large-amount
    threshold a current TOTP code is required."""
    require_open(system, "withdrawals")
    cause = Cause(caller.actor, idempotency_key)
    large = amount_minor >= system.config.money_policy().large_withdrawal_threshold
    # A retry of a request that already ran replays its outcome; its one-time code was spent.
    if large and not system.commands.already_ran(cause):
        system.accounts.check_totp(
            caller.account_id, totp_code, Cause(caller.actor, f"totp-{idempotency_key}")
        )
    destination = system.payout_methods.destination(caller.player_id, payout_method_id)
    return system.withdrawals.request(
        caller.player_id,
        amount_minor,
        currency or system.settings.policy.currency,
        destination,
        cause,
    )


def cancel_withdrawal(
    system: System, caller: Caller, withdrawal_id: str, idempotency_key: str
) -> WithdrawalStatus:
    """Cancel the player's own withdrawal while it is still requested (the amount unlocks)."""
    found = own_withdrawal(system, caller, withdrawal_id)
    return system.withdrawals.cancel(
        uuid.UUID(found.withdrawal_id), Cause(caller.actor, idempotency_key)
    )
