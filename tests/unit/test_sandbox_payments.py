"""The sandbox provider's webhook signatures: only authentic, fresh, well-formed requests pass."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import timedelta
from uuid import uuid4

import pytest

from application.errors import NotFound
from application.payments import ProviderEvent, WebhookRejected
from infrastructure.sandbox_payments import SIGNATURE_HEADER, SandboxProvider
from tests.unit.conftest import T0

SECRET = "s" * 32
OLD_SECRET = "o" * 32
DEPOSIT = str(uuid4())


def sandbox(secret: str = SECRET, **kwargs) -> SandboxProvider:
    return SandboxProvider(secret, 300, lambda: T0, **kwargs)


def webhook(provider: SandboxProvider, **kwargs) -> tuple[dict[str, str], bytes]:
    checkout = provider.create_checkout(DEPOSIT, 5_000, "EUR")
    return provider.complete(checkout.provider_ref, True, event_id="evt_1", **kwargs)


def rejected(provider: SandboxProvider, headers, body, now=T0) -> str:
    with pytest.raises(WebhookRejected) as error:
        provider.verify(headers, body, now)
    assert error.value.recorded is False
    return error.value.code


# ---- checkout ------------------------------------------------------------------------------


def test_checkout_reference_is_stable_per_deposit_and_carries_the_payment():
    provider = sandbox()

    checkout = provider.create_checkout(DEPOSIT, 5_000, "EUR")

    assert checkout.provider == "sandbox"
    assert checkout.provider_ref.startswith("sbx_")
    assert checkout.pay_url == f"/api/v1/sandbox/checkout/{checkout.provider_ref}"
    assert provider.create_checkout(DEPOSIT, 5_000, "EUR") == checkout
    assert provider.create_checkout(str(uuid4()), 5_000, "EUR") != checkout
    # Another process with the same secret knows the checkout (no state to lose).
    found = sandbox().checkout(checkout.provider_ref)
    assert (found.deposit_id, found.amount_minor, found.currency) == (DEPOSIT, 5_000, "EUR")


def test_a_forged_or_foreign_checkout_reference_is_not_found():
    ref = sandbox().create_checkout(DEPOSIT, 5_000, "EUR").provider_ref
    raised_amount = ref.replace("_5000_", "_9000_")

    for bad in (raised_amount, ref[:-1] + ("0" if ref[-1] != "0" else "1"), "sbx_x", ""):
        with pytest.raises(NotFound):
            sandbox().checkout(bad)
    with pytest.raises(NotFound):
        sandbox("x" * 32).checkout(ref)


# ---- sign / verify -------------------------------------------------------------------------


def test_complete_signs_an_event_that_verifies():
    provider = sandbox()
    headers, body = webhook(provider)

    event = provider.verify(headers, body, T0)

    ref = provider.create_checkout(DEPOSIT, 5_000, "EUR").provider_ref
    assert event == ProviderEvent("evt_1", "payment.succeeded", DEPOSIT, ref, 5_000, "EUR", None)
    t, v1 = headers[SIGNATURE_HEADER].split(",")
    expected = hmac.new(SECRET.encode(), f"{T0.timestamp():.0f}.".encode() + body, hashlib.sha256)
    assert t == f"t={int(T0.timestamp())}"
    assert v1 == f"v1={expected.hexdigest()}"


def test_a_declined_checkout_reports_a_failed_payment_with_a_reason():
    provider = sandbox()
    ref = provider.create_checkout(DEPOSIT, 5_000, "EUR").provider_ref

    event = provider.verify(*provider.complete(ref, False, reason="card declined"), T0)

    assert (event.kind, event.reason) == ("payment.failed", "card declined")


def test_header_names_are_matched_case_insensitively():
    provider = sandbox()
    headers, body = webhook(provider)

    lowered = {k.lower(): v for k, v in headers.items()}

    assert provider.verify(lowered, body, T0).event_id == "evt_1"


def test_a_tampered_body_is_rejected():
    provider = sandbox()
    headers, body = webhook(provider)
    tampered = body.replace(b'"amount_minor":5000', b'"amount_minor":9000')
    assert tampered != body

    assert rejected(provider, headers, tampered) == "webhook_signature_invalid"


def test_a_signature_made_with_another_secret_is_rejected():
    headers, body = webhook(sandbox("x" * 32))

    assert rejected(sandbox(), headers, body) == "webhook_signature_invalid"


@pytest.mark.parametrize(
    ("offset_s", "code"),
    [
        (-301, "webhook_timestamp_out_of_tolerance"),  # stale: signed more than 300 s ago
        (301, "webhook_timestamp_out_of_tolerance"),  # from the future
        (-300, None),
        (300, None),
    ],
)
def test_the_timestamp_must_be_within_the_tolerance_either_way(offset_s, code):
    provider = sandbox()
    headers, body = webhook(provider, at=T0 + timedelta(seconds=offset_s))

    if code is None:
        assert provider.verify(headers, body, T0).event_id == "evt_1"
    else:
        assert rejected(provider, headers, body) == code


def test_a_stale_signature_is_refused_even_when_the_body_is_changed_to_match():
    """Re-signing needs the secret: moving t forward breaks the signature."""
    provider = sandbox()
    headers, body = webhook(provider, at=T0 - timedelta(hours=1))
    old_t = headers[SIGNATURE_HEADER].split(",")[0]
    moved = {SIGNATURE_HEADER: headers[SIGNATURE_HEADER].replace(old_t, f"t={T0.timestamp():.0f}")}

    assert rejected(provider, moved, body) == "webhook_signature_invalid"


# Each header keeps the valid signature where it can, so that its shape alone is refused.
@pytest.mark.parametrize(
    "header",
    [
        None,  # missing
        "",
        "garbage",
        "t=abc,v1={v1}",
        "v1={v1}",  # no timestamp
        "t={t}",  # no signature
        "t={t},t={t},v1={v1}",  # two timestamps
        "t={t},v1=zz",  # not hex
        "t={t_wide},v1={v1}",  # fullwidth digits: int() reads them, but they are not ASCII
        "t={t}," + ",".join(["v1={v1}"] * 9),  # more values than any rotation needs
    ],
)
def test_a_malformed_signature_header_is_rejected(header):
    provider = sandbox()
    headers, body = webhook(provider)
    t, v1 = (part.partition("=")[2] for part in headers[SIGNATURE_HEADER].split(","))
    t_wide = "".join(chr(0xFF10 + int(d)) for d in t)
    malformed = (
        {} if header is None else {SIGNATURE_HEADER: header.format(t=t, v1=v1, t_wide=t_wide)}
    )

    assert rejected(provider, malformed, body) == "webhook_signature_invalid"


def test_rotation_two_v1_values_verify_with_either_secret():
    rotating = sandbox(SECRET, previous_secrets=[OLD_SECRET])
    headers, body = webhook(rotating)

    assert headers[SIGNATURE_HEADER].count("v1=") == 2
    assert sandbox(SECRET).verify(headers, body, T0).event_id == "evt_1"
    assert sandbox(OLD_SECRET).verify(headers, body, T0).event_id == "evt_1"
    assert rejected(sandbox("x" * 32), headers, body) == "webhook_signature_invalid"


def test_rotation_the_verifier_accepts_the_old_secret_until_it_is_dropped():
    headers, body = webhook(sandbox(OLD_SECRET))

    assert sandbox(SECRET, previous_secrets=[OLD_SECRET]).verify(headers, body, T0)
    assert rejected(sandbox(SECRET), headers, body) == "webhook_signature_invalid"


def test_unknown_signature_schemes_are_ignored_beside_a_valid_v1():
    provider = sandbox()
    headers, body = webhook(provider)
    headers[SIGNATURE_HEADER] += ",v0=deadbeef,v1=" + "0" * 64

    assert provider.verify(headers, body, T0).event_id == "evt_1"


# ---- well-formed body ----------------------------------------------------------------------


def _event(**changes):
    data = {
        "deposit_id": DEPOSIT,
        "provider_ref": "sbx_1",
        "amount_minor": 5_000,
        "currency": "EUR",
        "reason": None,
    }
    payload = {"id": "evt_1", "type": "payment.succeeded", "data": data}
    for key, value in changes.items():
        if key in data:
            data[key] = value
        else:
            payload[key] = value
    return payload


@pytest.mark.parametrize(
    "payload",
    [
        [],
        "text",
        {"id": "evt_1"},
        _event(type="payment.refunded"),
        _event(id=""),
        _event(id="e" * 151),
        _event(id=7),
        _event(amount_minor="5000"),
        _event(amount_minor=50.0),
        _event(amount_minor=True),
        _event(amount_minor=0),
        _event(deposit_id=None),
        _event(currency="EURO"),
        _event(reason=""),
        _event(data=[]),
    ],
)
def test_a_signed_but_malformed_event_is_rejected(payload):
    provider = sandbox()
    headers, body = provider.sign(payload, T0)

    assert rejected(provider, headers, body) == "webhook_malformed"


@pytest.mark.parametrize("body", [b"{", b"\xff\xfe", b"[" * 100_000 + b"]" * 100_000])
def test_a_signed_body_that_is_not_json_is_rejected_as_malformed(body):
    provider = sandbox()
    t = int(T0.timestamp())
    mac = hmac.new(SECRET.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()

    assert rejected(provider, {SIGNATURE_HEADER: f"t={t},v1={mac}"}, body) == "webhook_malformed"


def test_the_body_is_verified_byte_for_byte_not_as_parsed_json():
    provider = sandbox()
    headers, body = webhook(provider)
    reformatted = json.dumps(json.loads(body), indent=2).encode()

    assert rejected(provider, headers, reformatted) == "webhook_signature_invalid"
