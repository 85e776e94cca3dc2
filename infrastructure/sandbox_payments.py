"""The built-in sandbox payment provider: a checkout the player can pay or decline, and the
signed webhook a real provider would send, so the whole deposit flow runs locally.

Signature scheme (as the well-known providers do it): the header
``Prizeledger-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>...]`` where each v1 is
HMAC-SHA256(secret, f"{t}.".encode() + body). A request is accepted when any v1 matches any of
our secrets (several during a rotation), compared in constant time, and ``t`` is within the
tolerance of now in either direction (a captured request cannot be replayed later).

A checkout keeps no state: its reference carries the deposit id, amount and currency under an
HMAC, so any process with the secret can complete it, also after a restart.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from application.clock import Clock, system_clock
from application.errors import NotFound
from application.payments import (
    FAILED,
    SUCCEEDED,
    Checkout,
    PaymentKind,
    ProviderEvent,
    WebhookRejected,
)
from domain.errors import InvalidArgument

__all__ = ["SIGNATURE_HEADER", "SandboxCheckout", "SandboxProvider"]

SIGNATURE_HEADER = "Prizeledger-Signature"
CHECKOUT_PATH = "/api/v1/sandbox/checkout/"
MAX_SIGNATURES = 8
MAX_EVENT_ID = 150
MAX_TEXT = 200
_REF = re.compile(r"^sbx_([0-9a-f]{32})_([1-9][0-9]{0,15})_([A-Z]{3})_([0-9a-f]{32})$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True, slots=True)
class SandboxCheckout:
    """What the sandbox checkout page shows and what its webhook reports."""

    provider_ref: str
    deposit_id: str
    amount_minor: int
    currency: str


class SandboxProvider:
    def __init__(
        self,
        secret: str,
        tolerance_s: int = 300,
        clock: Clock = system_clock,
        *,
        previous_secrets: Sequence[str] = (),
        name: str = "sandbox",
    ) -> None:
        if not secret or tolerance_s <= 0:
            raise InvalidArgument("the sandbox needs a secret and a positive tolerance")
        self.name = name
        # The first secret signs; all of them verify (keep the old one during a rotation).
        self._secrets = [secret.encode(), *(s.encode() for s in previous_secrets)]
        self._tolerance_s = tolerance_s
        self._clock = clock

    # ---- checkout ------------------------------------------------------------------------------

    def create_checkout(self, deposit_id: str, amount_minor: int, currency: str) -> Checkout:
        """The same deposit always gets the same reference (a retried start is idempotent)."""
        plain = f"sbx_{UUID(deposit_id).hex}_{amount_minor}_{currency}"
        ref = f"{plain}_{self._ref_mac(self._secrets[0], plain)}"
        if not _REF.match(ref):
            raise InvalidArgument(f"cannot make a checkout for {amount_minor} {currency}")
        return Checkout(provider=self.name, provider_ref=ref, pay_url=CHECKOUT_PATH + ref)

    def checkout(self, provider_ref: str) -> SandboxCheckout:
        """The checkout behind a reference this sandbox made, or NotFound."""
        match = _REF.match(provider_ref)
        plain = provider_ref.rpartition("_")[0]
        if match is None or not any(
            hmac.compare_digest(self._ref_mac(key, plain), match[4]) for key in self._secrets
        ):
            raise NotFound("no such sandbox checkout")
        return SandboxCheckout(
            provider_ref=provider_ref,
            deposit_id=str(UUID(match[1])),
            amount_minor=int(match[2]),
            currency=match[3],
        )

    def complete(
        self,
        provider_ref: str,
        succeeded: bool,
        *,
        reason: str | None = None,
        event_id: str | None = None,
        at: datetime | None = None,
        amount_minor: int | None = None,
        currency: str | None = None,
    ) -> tuple[dict[str, str], bytes]:
        """The signed webhook (headers, body) reporting that the player paid or declined.
        ``amount_minor``/``currency`` override what is reported (to test a provider that
        misreports)."""
        checkout = self.checkout(provider_ref)
        payload = {
            "id": event_id or f"evt_{secrets.token_hex(12)}",
            "type": SUCCEEDED if succeeded else FAILED,
            "data": {
                "deposit_id": checkout.deposit_id,
                "provider_ref": provider_ref,
                "amount_minor": checkout.amount_minor if amount_minor is None else amount_minor,
                "currency": currency or checkout.currency,
                "reason": None if succeeded else (reason or "declined in the sandbox checkout"),
            },
        }
        return self.sign(payload, at or self._clock())

    # ---- webhook signatures --------------------------------------------------------------------

    def sign(self, payload: dict[str, Any], at: datetime) -> tuple[dict[str, str], bytes]:
        """Headers and body of a webhook request carrying ``payload``, signed at ``at`` with
        every secret (one v1 value each)."""
        body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
        t = int(at.timestamp())
        values = ",".join(f"v1={_mac(key, t, body)}" for key in self._secrets)
        return {"Content-Type": "application/json", SIGNATURE_HEADER: f"t={t},{values}"}, body

    def verify(self, headers: Mapping[str, str], body: bytes, now: datetime) -> ProviderEvent:
        """The event of an authentic request: signature first, then freshness, then shape."""
        t, signatures = _parse_signature(_header(headers, SIGNATURE_HEADER))
        expected = [_mac(key, t, body).encode() for key in self._secrets]
        # Every comparison runs (no early exit) and each one is constant-time.
        matches = [hmac.compare_digest(e, s.encode()) for e in expected for s in signatures]
        if not any(matches):
            raise WebhookRejected("webhook_signature_invalid", "the signature does not match")
        if abs(now.timestamp() - t) > self._tolerance_s:
            raise WebhookRejected(
                "webhook_timestamp_out_of_tolerance",
                f"the signature's time is more than {self._tolerance_s} s from now",
            )
        return _event_of(body)

    @staticmethod
    def _ref_mac(key: bytes, plain: str) -> str:
        # Domain-separated from webhook signatures, so one can never stand in for the other.
        return hmac.new(key, b"checkout|" + plain.encode(), hashlib.sha256).hexdigest()[:32]


def _mac(key: bytes, t: int, body: bytes) -> str:
    return hmac.new(key, f"{t}.".encode() + body, hashlib.sha256).hexdigest()


def _header(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name)
    if value is None:
        wanted = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == wanted), None)
    if value is None:
        raise WebhookRejected("webhook_signature_invalid", f"the {name} header is missing")
    return value


def _parse_signature(header: str) -> tuple[int, list[str]]:
    """``t`` once, one or more v1 values; other schemes are ignored (as providers add them)."""
    timestamps: list[str] = []
    signatures: list[str] = []
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if key == "t" and sep:
            timestamps.append(value)
        elif key == "v1" and _HEX64.match(value):
            signatures.append(value)
    if len(timestamps) != 1 or not timestamps[0].isascii() or not timestamps[0].isdigit():
        raise WebhookRejected("webhook_signature_invalid", "the signature header is malformed")
    if not 1 <= len(signatures) <= MAX_SIGNATURES:
        raise WebhookRejected("webhook_signature_invalid", "the signature header has no v1")
    return int(timestamps[0]), signatures


def _event_of(body: bytes) -> ProviderEvent:
    try:
        payload = json.loads(body)
        data = payload["data"]
        event = ProviderEvent(
            event_id=_text(payload["id"], MAX_EVENT_ID),
            kind=_kind(payload["type"]),
            deposit_id=_text(data["deposit_id"], MAX_TEXT),
            provider_ref=_text(data["provider_ref"], MAX_TEXT),
            amount_minor=_amount(data["amount_minor"]),
            currency=_text(data["currency"], 3),
            reason=None if data.get("reason") is None else _text(data["reason"], MAX_TEXT),
        )
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError) as error:
        raise WebhookRejected("webhook_malformed", f"the event is malformed: {error}") from None
    return event


def _kind(value: object) -> PaymentKind:
    if value == SUCCEEDED:
        return SUCCEEDED
    if value == FAILED:
        return FAILED
    raise ValueError(f"unknown event type {value!r}")


def _text(value: object, limit: int) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise ValueError(f"expected a text of 1..{limit} characters, got {value!r}")
    if not value.isprintable():
        raise ValueError("text must be printable")
    return value.strip()


def _amount(value: object) -> int:
    if type(value) is not int or value <= 0:
        raise ValueError(f"amount must be a positive integer, got {value!r}")
    return value
