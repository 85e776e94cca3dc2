"""Payout methods: given earlier commands, when one command, then these events (or this error)."""

from __future__ import annotations

import pytest

from application.payout_methods import PayoutMethodView
from domain import ids
from domain.cause import Cause
from domain.errors import InvalidArgument
from domain.payout import (
    MAX_ACTIVE_METHODS,
    InvalidPayoutMethod,
    PayoutMethodExists,
    PayoutMethodNotFound,
    PayoutMethods,
    TooManyPayoutMethods,
)
from domain.payout_details import mask, normalise
from tests.unit.conftest import T0, names, payload, refused

PLAYER = Cause("player:p1", "req-1")
IBAN = "DE89 3704 0044 0532 0130 00"
IBAN_CANONICAL = "DE89370400440532013000"
BANK = {"iban": IBAN, "holder_name": " Max  Mustermann "}
ETH = "0x52908400098527886E0F7030069857D2E4169EE7"
# Ten distinct IBANs with correct check digits (mod 97), for the limit tests.
GB_IBANS = [
    "GB73WEST12345698765400",
    "GB67WEST12345698765411",
    "GB61WEST12345698765422",
    "GB55WEST12345698765433",
    "GB49WEST12345698765444",
    "GB43WEST12345698765455",
    "GB37WEST12345698765466",
    "GB31WEST12345698765477",
    "GB25WEST12345698765488",
    "GB19WEST12345698765499",
]


def given_methods(*bank_ibans: str) -> PayoutMethods:
    methods = PayoutMethods.open("p1", Cause("player:p1", "given-open"))
    for n, iban in enumerate(bank_ibans):
        details = {"iban": iban, "holder_name": "Max"}
        methods.add_method(f"m{n}", "bank_account", details, "", T0, Cause("player:p1", f"g{n}"))
    methods.collect_events()
    return methods


def test_the_test_ibans_are_distinct_and_valid():
    assert len(set(GB_IBANS)) == MAX_ACTIVE_METHODS
    for iban in GB_IBANS:
        normalise("bank_account", {"iban": iban, "holder_name": "x"})


# ---- open ----------------------------------------------------------------------------------


def test_open_records_opened_under_the_players_id():
    methods = PayoutMethods.open("p1", PLAYER)

    events = methods.collect_events()
    assert names(events) == ["Opened"]
    assert payload(events[0]) == {"player_id": "p1", "actor": "player:p1", "request_id": "req-1"}
    assert methods.id == ids.payout_methods_id("p1")
    assert methods.id != ids.payout_methods_id("p2")
    assert methods.active() == []


@pytest.mark.parametrize("player_id", ["", "p" * 101])
def test_open_refuses_a_bad_player_id(player_id):
    with pytest.raises(InvalidArgument):
        PayoutMethods.open(player_id, PLAYER)


# ---- add: bank accounts --------------------------------------------------------------------


def test_add_bank_account_keeps_the_full_iban_and_shows_it_masked():
    methods = given_methods()

    added = methods.add_method("m1", "bank_account", BANK, " Salary  account ", T0, PLAYER)

    events = methods.collect_events()
    assert names(events) == ["MethodAdded"]
    assert payload(events[0]) == {
        "method_id": "m1",
        "kind": "bank_account",
        "details": {"iban": IBAN_CANONICAL, "holder_name": "Max Mustermann"},
        "masked": "DE89 **** **** **** 3000",
        "label": "Salary account",
        "at": T0,
        "actor": "player:p1",
        "request_id": "req-1",
    }
    assert added.masked == "DE89 **** **** **** 3000"
    assert added.details["iban"] == IBAN_CANONICAL
    assert [m.method_id for m in methods.active()] == ["m1"]


@pytest.mark.parametrize(
    "iban",
    [
        "DE89370400440532013001",  # last digit mistyped: mod 97 fails
        "DE98370400440532013000",  # check digits swapped
        "DE8937040044053201300",  # one character short for Germany
        "GB82WEST1234569876543X",  # a letter where the account has digits: mod 97 fails
        "D189370400440532013000",  # country code is not two letters
        "DE89",  # too short to be an IBAN
        "DE89 3704 0044 0532 0130 00 00 00 00 00 00 00 00",  # too long
        "",
    ],
)
def test_add_refuses_an_iban_that_fails_the_checks(iban):
    methods = given_methods()

    with refused(methods, InvalidPayoutMethod) as error:
        methods.add_method("m1", "bank_account", {**BANK, "iban": iban}, "", T0, PLAYER)
    assert error.value.code == "invalid_payout_method"
    assert error.value.recorded is False


@pytest.mark.parametrize(
    "iban", ["GB82WEST12345698765432", "gb82 west 1234 5698 7654 32", "NL91ABNA0417164300"]
)
def test_add_accepts_valid_ibans_in_any_case_and_spacing(iban):
    methods = given_methods()

    added = methods.add_method("m1", "bank_account", {**BANK, "iban": iban}, "", T0, PLAYER)

    assert added.details["iban"] == iban.replace(" ", "").upper()


@pytest.mark.parametrize(
    "details",
    [
        {"iban": IBAN},  # no holder
        {"iban": IBAN, "holder_name": "   "},
        {"iban": IBAN, "holder_name": "x" * 141},
        {"iban": IBAN, "holder_name": "Max\x00"},
        {"iban": IBAN, "holder_name": "Max", "bic": "COBADEFFXXX"},  # unknown field
        {"iban": IBAN, "holder_name": 7},
    ],
)
def test_add_refuses_bad_bank_details(details):
    methods = given_methods()

    with refused(methods, InvalidPayoutMethod):
        methods.add_method("m1", "bank_account", details, "", T0, PLAYER)


# ---- add: crypto addresses -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("network", "address", "masked"),
    [
        ("ethereum", ETH, "0x5290...9EE7"),
        ("bitcoin", "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", "1A1zP1...vfNa"),
        ("bitcoin", "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy", "3J98t1...WNLy"),
        ("bitcoin", "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4", "bc1qw5...f3t4"),
        (
            "bitcoin",
            "bc1p5d7rjq7g6rdk2yhzks9smlaqtedr4dekq08ge8ztwac72sfr9rusxg3297",
            "bc1p5d...3297",
        ),
        ("Tron", "TLa2f6VPqDgRE67v1736s7bJ8Ray5wYjU7", "TLa2f6...YjU7"),
    ],
)
def test_add_crypto_address_keeps_it_and_masks_all_but_first_6_and_last_4(network, address, masked):
    methods = given_methods()

    added = methods.add_method(
        "m1", "crypto_address", {"network": network, "address": address}, "cold", T0, PLAYER
    )

    assert added.details == {"network": network.lower(), "address": address}
    assert added.masked == masked
    assert payload(methods.collect_events()[0])["masked"] == masked


@pytest.mark.parametrize(
    ("network", "address"),
    [
        ("ethereum", ETH[:-1]),  # 39 hex digits
        ("ethereum", ETH[2:]),  # no 0x
        ("ethereum", ETH[:-1] + "G"),  # not hex
        ("bitcoin", "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb"),  # Base58Check checksum fails
        ("bitcoin", "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5"),  # Bech32 checksum fails
        ("bitcoin", ETH),
        ("tron", "TLa2f6VPqDgRE67v1736s7bJ8Ray5wYjU8"),  # checksum fails
        ("tron", "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"),  # a bitcoin address
        ("dogecoin", "DH5yaieqoZN36fDVciNyRueRGvGLR3mr7L"),  # network not offered
        ("ethereum", ""),
    ],
)
def test_add_refuses_an_address_that_fails_the_sanity_checks(network, address):
    methods = given_methods()

    with refused(methods, InvalidPayoutMethod):
        methods.add_method(
            "m1", "crypto_address", {"network": network, "address": address}, "", T0, PLAYER
        )


@pytest.mark.parametrize("kind", ["paypal", "", "BANK_ACCOUNT"])
def test_add_refuses_an_unknown_kind(kind):
    methods = given_methods()

    with refused(methods, InvalidPayoutMethod):
        methods.add_method("m1", kind, BANK, "", T0, PLAYER)


@pytest.mark.parametrize("label", ["x" * 61, "tab\there is fine but not\x07"])
def test_add_refuses_a_long_or_unprintable_label(label):
    methods = given_methods()

    with refused(methods, InvalidPayoutMethod):
        methods.add_method("m1", "bank_account", BANK, label, T0, PLAYER)


def test_add_refuses_the_same_destination_twice_but_not_after_removal():
    methods = given_methods(IBAN_CANONICAL)

    with refused(methods, PayoutMethodExists):
        methods.add_method("m9", "bank_account", {**BANK, "holder_name": "Other"}, "", T0, PLAYER)

    methods.remove_method("m0", PLAYER)
    methods.add_method("m9", "bank_account", BANK, "", T0, PLAYER)
    assert [m.method_id for m in methods.active()] == ["m9"]


def test_add_refuses_a_reused_method_id():
    methods = given_methods(IBAN_CANONICAL)

    with refused(methods, InvalidArgument):
        methods.add_method(
            "m0", "crypto_address", {"network": "ethereum", "address": ETH}, "", T0, PLAYER
        )


# ---- limits --------------------------------------------------------------------------------


def test_the_tenth_method_is_accepted_and_the_eleventh_refused():
    methods = given_methods(*GB_IBANS[:9])

    methods.add_method(
        "m9", "bank_account", {"iban": GB_IBANS[9], "holder_name": "M"}, "", T0, PLAYER
    )
    assert len(methods.active()) == MAX_ACTIVE_METHODS
    methods.collect_events()

    with refused(methods, TooManyPayoutMethods) as error:
        methods.add_method("m10", "bank_account", BANK, "", T0, PLAYER)
    assert error.value.code == "too_many_payout_methods"


def test_removing_one_makes_room_for_another():
    methods = given_methods(*GB_IBANS)

    methods.remove_method("m3", PLAYER)
    methods.add_method("m10", "bank_account", BANK, "", T0, PLAYER)

    assert len(methods.active()) == MAX_ACTIVE_METHODS
    assert "m3" not in [m.method_id for m in methods.active()]


# ---- remove --------------------------------------------------------------------------------


def test_remove_records_removed_and_keeps_the_details_for_payout():
    methods = given_methods(IBAN_CANONICAL)

    removed = methods.remove_method("m0", Cause("player:p1", "req-2"))

    events = methods.collect_events()
    assert names(events) == ["MethodRemoved"]
    assert payload(events[0]) == {"method_id": "m0", "actor": "player:p1", "request_id": "req-2"}
    assert removed.removed is True
    assert methods.active() == []
    with pytest.raises(PayoutMethodNotFound):
        methods.method("m0")
    assert methods.method("m0", include_removed=True).details["iban"] == IBAN_CANONICAL


@pytest.mark.parametrize("method_id", ["m0", "nope"])
def test_remove_refuses_a_removed_or_unknown_method(method_id):
    methods = given_methods(IBAN_CANONICAL)
    methods.remove_method("m0", PLAYER)
    methods.collect_events()

    with refused(methods, PayoutMethodNotFound) as error:
        methods.remove_method(method_id, PLAYER)
    assert error.value.code == "payout_method_not_found"
    assert error.value.recorded is False


def test_another_player_cannot_add_or_remove():
    methods = given_methods(IBAN_CANONICAL)
    intruder = Cause("player:p2", "req-x")

    with refused(methods, PayoutMethodNotFound):
        methods.remove_method("m0", intruder)
    with refused(methods, PayoutMethodNotFound):
        methods.add_method(
            "m1", "crypto_address", {"network": "ethereum", "address": ETH}, "", T0, intruder
        )


def test_an_operator_may_remove_a_players_method():
    methods = given_methods(IBAN_CANONICAL)

    methods.remove_method("m0", Cause("operator:alice", "r1"))

    assert methods.active() == []


def test_replaying_the_events_rebuilds_the_same_methods():
    methods = PayoutMethods.open("p1", PLAYER)
    methods.add_method("m1", "bank_account", BANK, "a", T0, PLAYER)
    methods.add_method(
        "m2", "crypto_address", {"network": "ethereum", "address": ETH}, "b", T0, PLAYER
    )
    methods.remove_method("m1", PLAYER)

    rebuilt = None
    for event in methods.collect_events():
        rebuilt = event.mutate(rebuilt)

    assert rebuilt is not None
    assert rebuilt.active() == methods.active()
    assert rebuilt.method("m1", include_removed=True) == methods.method("m1", include_removed=True)


def test_mask_never_shows_more_than_country_check_digits_and_last_four():
    canonical = normalise(
        "bank_account", {"iban": "FR1420041010050500013M02606", "holder_name": "A"}
    )

    masked = mask("bank_account", canonical)

    assert masked == "FR14 **** **** **** 2606"
    assert "2004101005" not in masked.replace(" ", "")


# ---- the service: the player's own methods only (embedded store) ---------------------------


def test_service_adds_lists_masked_and_resolves_only_the_players_own_method(embedded):
    service = embedded.payout_methods
    mine = service.add("p1", "bank_account", BANK, "salary", Cause("player:p1", "add-1"))
    theirs = service.add(
        "p2", "crypto_address", {"network": "ethereum", "address": ETH}, "", Cause("player:p2", "a")
    )

    assert service.list("p1") == [mine]
    assert mine == PayoutMethodView(
        mine.method_id, "bank_account", "salary", "DE89 **** **** **** 3000", T0
    )
    assert service.destination("p1", mine.method_id) == f"bank_account:{mine.method_id}"
    assert service.details_for_payout("p1", mine.method_id) == {
        "kind": "bank_account",
        "iban": IBAN_CANONICAL,
        "holder_name": "Max Mustermann",
    }
    # Player 1 names player 2's method: not found, exactly as an id that exists nowhere.
    for method_id in (theirs.method_id, "0" * 32):
        with pytest.raises(PayoutMethodNotFound):
            service.destination("p1", method_id)
        with pytest.raises(PayoutMethodNotFound):
            service.remove("p1", method_id, Cause("player:p1", f"rm-{method_id}"))
    assert service.list("p2") == [theirs]


def test_service_retry_replays_and_removed_methods_stop_resolving(embedded):
    service = embedded.payout_methods
    first = service.add("p1", "bank_account", BANK, "", Cause("player:p1", "add-1"))

    assert service.add("p1", "bank_account", BANK, "", Cause("player:p1", "add-1")) == first
    assert len(service.list("p1")) == 1

    service.remove("p1", first.method_id, Cause("player:p1", "rm-1"))

    assert service.list("p1") == []
    with pytest.raises(PayoutMethodNotFound):
        service.destination("p1", first.method_id)
    # A withdrawal requested before the removal must still be payable.
    assert service.details_for_payout("p1", first.method_id)["iban"] == IBAN_CANONICAL
    assert service.list("nobody") == []
