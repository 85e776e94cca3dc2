"""Every user-facing string of the player pages and of the operator console comes from its
message catalogues (the shared templates of interfaces/web are checked against both): both
locales have the same keys, every key a template or page uses exists, placeholders agree,
and no template carries text of its own."""

from __future__ import annotations

import json
import re
import string
from pathlib import Path

import pytest

from domain.deposit import DepositState
from domain.draw import RefusalReason
from domain.payout_details import PayoutKind
from domain.pool import PoolStatus
from domain.postings import _RULES
from domain.prizes import PrizeKind
from domain.wallet import LimitPeriod
from domain.withdrawal import WithdrawalState
from interfaces.i18n import Translations
from projections.audit import event_names

INTERFACES = Path(__file__).resolve().parents[2] / "interfaces"
PLAYER = INTERFACES / "player"
APPS = {"player": PLAYER, "console": INTERFACES / "admin" / "console"}
SHARED = sorted((INTERFACES / "web" / "templates").glob("*.html"))
TEMPLATES = [
    (app, path)
    for app, root in APPS.items()
    for path in [*sorted((root / "templates").glob("*.html")), *SHARED]
]
CATALOGUES_OF = {
    app: {p.stem: json.loads(p.read_text("utf-8")) for p in (root / "locales").glob("*.json")}
    for app, root in APPS.items()
}
CATALOGUES = CATALOGUES_OF["player"]
KEY_USE = re.compile(r"""\bt\(\s*["']([^"']+)["']""")
# Jinja syntax, then tags and entities: what is left is text a reader sees.
JINJA = re.compile(r"{{.*?}}|{%.*?%}|{#.*?#}", re.DOTALL)
TAG = re.compile(r"<!--.*?-->|<[^>]*>", re.DOTALL)
# Attributes a reader sees (or hears) must be translated too.
SEEN_ATTRIBUTE = re.compile(r"""\b(?:aria-label|title|alt|placeholder)=["']([^"']*)["']""")
NOT_WORDS = re.compile(r"^[\s\u00b7:/()\-\u2013\u2014.,%0-9]*$")  # separators, digits


# Wallet events that post money to a player's balances: what the history lists (a new one
# must get a message before it can show up unlabelled).
POSTING_KINDS = [name.split(".")[1] for name in _RULES if name.startswith("Wallet.")]


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@pytest.mark.parametrize("app", APPS)
def test_both_locales_have_the_same_keys_and_placeholders(app: str) -> None:
    catalogues = CATALOGUES_OF[app]
    assert set(catalogues) == {"en", "zh-Hans"}
    english, chinese = catalogues["en"], catalogues["zh-Hans"]
    assert set(english) == set(chinese)
    for key, text in english.items():
        assert placeholders(text) == placeholders(chinese[key]), key
        assert chinese[key].strip(), key


def _id(case: object) -> str:
    return case.name if isinstance(case, Path) else str(case)


@pytest.mark.parametrize(("app", "template"), TEMPLATES, ids=_id)
def test_templates_only_use_keys_that_exist(app: str, template: Path) -> None:
    english = CATALOGUES_OF[app]["en"]
    for key in KEY_USE.findall(template.read_text("utf-8")):
        if key.endswith("."):  # t("wstate." ~ state): the values are checked one by one below
            assert any(k.startswith(key) for k in english), f"{template.name}: {key}"
        else:
            assert key in english, f"{template.name}: {key}"


@pytest.mark.parametrize(("app", "template"), TEMPLATES, ids=_id)
def test_templates_have_no_hard_coded_text(app: str, template: Path) -> None:
    source = template.read_text("utf-8")
    without_jinja = JINJA.sub(" ", source)
    for attribute in SEEN_ATTRIBUTE.findall(without_jinja):
        assert NOT_WORDS.match(attribute), f"{template.name}: attribute text {attribute!r}"
    for text in TAG.sub("\n", without_jinja).splitlines():
        assert NOT_WORDS.match(text), f"{template.name}: hard-coded text {text.strip()!r}"


def test_the_hard_coded_text_check_catches_a_bare_string() -> None:
    sample = '<p>{{ t("wallet.title") }}</p><button aria-label="Close">{{ t("x") }}</button>'
    sample += "<p>Hello</p>"
    texts = [t for t in TAG.sub("\n", JINJA.sub(" ", sample)).splitlines() if t.strip()]
    assert texts == ["Hello"]
    assert SEEN_ATTRIBUTE.findall(JINJA.sub(" ", sample)) == ["Close"]


def test_every_refusal_and_state_the_pages_show_has_a_message() -> None:
    english = CATALOGUES["en"]
    for reason in RefusalReason:
        assert f"error.{reason.value}" in english
    enumerations = {
        "wstate.": WithdrawalState,
        "dstate.": DepositState,
        "pool.status.": PoolStatus,
        "period.": LimitPeriod,
        "prize.kind.": PrizeKind,
        "payout.kind.": PayoutKind,
    }
    for prefix, values in enumerations.items():
        for value in values:
            assert f"{prefix}{value.value}" in english
    for locale in CATALOGUES:
        assert f"lang.{locale}" in english
    for name in event_names():
        # (the library's base ``Event`` and default ``Created`` are never recorded)
        if name.startswith("Withdrawal.") and name.split(".")[1] not in {"Event", "Created"}:
            assert f"timeline.{name}" in english
    for kind in POSTING_KINDS:
        assert f"posting.{kind}" in english
    for page in (PLAYER / "pages").glob("*.py"):
        for key in re.findall(r"""message\(request, "([^"]+)"\)""", page.read_text("utf-8")):
            assert key in english, f"{page.name}: {key}"


def test_the_locale_comes_from_the_cookie_then_accept_language() -> None:
    translations = Translations(PLAYER / "locales")

    assert translations.negotiate("zh-Hans", "en") == "zh-Hans"
    assert translations.negotiate("fr", "zh-CN,zh;q=0.8") == "zh-Hans"
    assert translations.negotiate(None, "fr-FR, en;q=0.3") == "en"
    assert translations.negotiate(None, "zh-TW") == "en"  # not Simplified Chinese
    assert translations.negotiate(None, "de, zh;q=0") == "en"
    assert translations.negotiate(None, None) == "en"
    assert translations.message("zh-Hans", "field.amount", currency="EUR") == "金额\uff08EUR\uff09"


def test_every_payment_event_the_console_timelines_show_has_a_message() -> None:
    english = CATALOGUES_OF["console"]["en"]
    for name in event_names():
        kind, _, event = name.partition(".")
        if kind in {"Withdrawal", "Deposit"} and event not in {"Event", "Created"}:
            assert f"event.{name}" in english, name
