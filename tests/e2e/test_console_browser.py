"""The operator console end to end in headless Debian chromium against real servers on
127.0.0.1: both apps served the way ``prizeledger run`` serves them (one process, two ports,
one embedded store in a temporary directory). A funded player has asked for a large withdrawal
(through the use cases, before the servers start); the first finance operator signs in with a
TOTP code and approves it, a second one approves it too (maker-checker), sends it to the
provider and marks it paid with a fresh code; the player, signed in to the player app, sees it
paid. Screenshots of the console's main pages go to tests/artifacts/.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyotp
import pytest

from domain.cause import Cause
from domain.prizes import PoolControls, Prize
from infrastructure.bootstrap import System, bootstrap
from infrastructure.settings import Settings
from tests.e2e.test_player_browser import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    IBAN,
    PASSWORD,
    ROOT,
    _chromium_or_skip,
    _environment,
    _free_port,
    _wait_until_up,
)

pytestmark = pytest.mark.browser

SETUP = "system:e2e-setup"
PLAYER_EMAIL = "winner@example.com"


@dataclass(frozen=True)
class Operator:
    email: str
    secret: str

    def code(self, steps: int = 0) -> str:
        """The code of the step ``steps`` away from now (the server accepts a step either side,
        and each step once: enrolment takes the last one, sign-in this one, step-up the next)."""
        return str(pyotp.TOTP(self.secret).at(int(time.time()), counter_offset=steps))


@dataclass(frozen=True)
class Story:
    player_url: str
    console_url: str
    maker: Operator
    checker: Operator
    withdrawal_id: str
    amount_text: str


def _cause(step: str, actor: str = SETUP) -> Cause:
    return Cause(actor, f"e2e-{step}-{uuid.uuid4().hex[:8]}")


def _prepare(env: dict[str, str]) -> tuple[Operator, Operator, str, int]:
    """Two finance operators with TOTP, and a player whose large withdrawal waits for review
    (deposited through the sandbox checkout's signed webhook, like a real payment)."""
    system = bootstrap(Settings.from_env(env))
    try:
        operators: list[Operator] = []
        for name in ("maker", "checker"):
            email = f"{name}@example.com"
            view = system.operators.create(email, PASSWORD, ["finance"], _cause(name))
            secret = system.operators.start_totp(view.operator_id, _cause(f"{name}-totp")).secret
            operator = Operator(email, secret)
            system.operators.enable_totp(view.operator_id, operator.code(-1), _cause(f"{name}-on"))
            operators.append(operator)
        account = system.accounts.register(PLAYER_EMAIL, PASSWORD, _cause("register"))
        player = account.player_id
        as_player = f"player:{player}"
        large = system.config.money_policy().large_withdrawal_threshold
        currency = system.settings.policy.currency
        sandbox = system.sandbox
        assert sandbox is not None, "the embedded store serves the sandbox provider"
        deposit = system.deposits.request(
            player, large * 2, currency, sandbox.name, _cause("deposit", as_player)
        )
        checkout = system.payments.start(deposit, _cause("checkout", as_player))
        headers, body = sandbox.complete(checkout.provider_ref, succeeded=True, event_id="evt_e2e")
        system.payments.receive(sandbox.name, headers, body)
        method = system.payout_methods.add(
            player,
            "bank_account",
            {"iban": IBAN, "holder_name": "E2E Winner"},
            "Main account",
            _cause("method", as_player),
        )
        _play(system, player)
        destination = system.payout_methods.destination(player, method.method_id)
        requested = system.withdrawals.request(
            player, large, currency, destination, _cause("withdraw", as_player)
        )
        return operators[0], operators[1], requested.withdrawal_id, large
    finally:
        system.close()


def _play(system: System, player: str) -> None:
    """A pool and a few draws: the finance report then has a house result to chart."""
    op = "operator:e2e-setup"
    system.pools.create("wheel", "The wheel", 100, PoolControls(), _cause("pool", op))
    system.pools.add_prize("wheel", Prize("gem", "Gem", "cash", 150, 30), _cause("gem", op))
    system.pools.fund("wheel", 1_000_000, _cause("fund", op))
    system.draws.draw(player, "wheel", 10, _cause("draw", f"player:{player}"))


@pytest.fixture
def story(tmp_path: Path) -> Iterator[Story]:
    """Both apps in one real process (``interfaces.serve``, as ``prizeledger run``)."""
    env = _environment(tmp_path / "data")
    maker, checker, withdrawal_id, amount = _prepare(env)
    player_port, console_port = _free_port(), _free_port()
    log = (tmp_path / "server.log").open("w")
    serve = (
        "from interfaces.serve import serve;"
        f"serve('127.0.0.1', {player_port}, '127.0.0.1', {console_port})"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", serve], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    player_url = f"http://127.0.0.1:{player_port}"
    console_url = f"http://127.0.0.1:{console_port}"
    try:
        _wait_until_up(player_url, process, tmp_path / "server.log")
        _wait_until_up(console_url, process, tmp_path / "server.log")
        whole, part = divmod(amount, 100)
        amount_text = f"{whole:,}.{part:02d} EUR"
        yield Story(player_url, console_url, maker, checker, withdrawal_id, amount_text)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def test_two_operators_approve_a_large_withdrawal_and_the_player_sees_it_paid(
    story: Story,
) -> None:
    _chromium_or_skip()
    from playwright.sync_api import Page, ViewportSize, expect, sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    problems: list[str] = []

    def watch(page: Page) -> Page:
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda error: problems.append(str(error)))
        return page

    def sign_in(page: Page, op: Operator) -> None:
        page.goto("/login")
        page.get_by_label("E-mail").fill(op.email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_label("Authenticator code").fill(op.code())
        page.get_by_role("button", name="Sign in").click()
        expect(page).to_have_url(f"{story.console_url}/dashboard")

    detail = f"/withdrawals/{story.withdrawal_id}"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        phone: ViewportSize = {"width": 390, "height": 844}

        # The player signs in and sees the request waiting.
        player = watch(browser.new_context(base_url=story.player_url, viewport=phone).new_page())
        player.goto("/login")
        player.get_by_label("E-mail address").fill(PLAYER_EMAIL)
        player.get_by_label("Password").fill(PASSWORD)
        player.get_by_role("button", name="Sign in").click()
        player.goto(detail)
        expect(player.locator("#withdrawal-state")).to_have_text("requested")

        # The first operator signs in with TOTP, finds it in the queue and approves it.
        maker = watch(browser.new_context(base_url=story.console_url).new_page())
        sign_in(maker, story.maker)
        expect(maker.locator("h1")).to_have_text("Dashboard")
        maker.screenshot(path=ARTIFACTS / "console-dashboard.png", full_page=True)
        maker.get_by_role("link", name="Withdrawals to approve").click()
        maker.get_by_role("link", name=re.compile(r"\d{4}-\d\d-\d\d")).first.click()
        expect(maker).to_have_url(f"{story.console_url}{detail}")
        expect(maker.locator("h1")).to_contain_text(story.amount_text)
        expect(maker.get_by_text("2 different operators must approve it")).to_be_visible()
        maker.get_by_role("button", name="Approve").click()  # no reason: the browser asks
        expect(maker.locator("#approvals")).to_have_text("0 of 2")
        maker.locator("#reason-approve").fill("source of funds checked")
        maker.get_by_role("button", name="Approve").click()
        expect(maker.locator("#approvals")).to_have_text("1 of 2")
        maker.screenshot(path=ARTIFACTS / "console-withdrawal-one-approval.png", full_page=True)

        # The second operator (on a phone-sized screen) approves, sends it and marks it paid.
        checker = watch(browser.new_context(base_url=story.console_url, viewport=phone).new_page())
        sign_in(checker, story.checker)
        checker.goto(detail)
        checker.locator("#reason-approve").fill("second approval")
        checker.get_by_role("button", name="Approve").click()
        expect(checker.locator("#state")).to_have_text("approved")
        checker.get_by_label("Provider reference").fill("sepa-e2e-1")
        checker.locator("#reason-submit").fill("payout run")
        checker.get_by_role("button", name="Sent to the provider").click()
        expect(checker.locator("#state")).to_have_text("submitted")
        checker.locator("#reason-paid").fill("the bank paid")
        checker.get_by_label("Authenticator code (confirms this action)").fill(
            story.checker.code(1)
        )
        checker.get_by_role("button", name="Mark paid").click()
        expect(checker.locator("#state")).to_have_text("paid")
        # The timeline is the audit read model's, a moment behind the ledger.
        for _ in range(30):
            if checker.locator(".timeline li", has_text="the bank paid").count():
                break
            time.sleep(0.5)
            checker.reload()
        expect(checker.locator(".timeline li", has_text="the bank paid")).to_have_count(1)
        expect(checker.locator(".timeline li", has_text="source of funds checked")).to_be_visible()
        checker.screenshot(path=ARTIFACTS / "console-withdrawal-paid.png", full_page=True)
        # The main pages as the checker sees them (finance staff).
        for page_path, heading in [
            ("/finance", "Finance report"),
            ("/pools/wheel", "The wheel"),
            ("/audit", "Audit log"),
            ("/players", "Players"),
            ("/deposits?state=credited", "Deposit review"),
        ]:
            checker.goto(page_path)
            expect(checker.locator("h1")).to_have_text(heading)
            name = page_path.strip("/").split("?")[0].replace("/", "-")
            checker.screenshot(path=ARTIFACTS / f"console-{name}.png", full_page=True)
        expect(checker.locator("#rows")).to_contain_text("credited")
        checker.goto(detail)
        checker.get_by_role("button", name="简体中文").click()
        expect(checker.locator("#state")).to_have_text("已支付")
        checker.screenshot(path=ARTIFACTS / "console-withdrawal-paid-zh.png", full_page=True)

        # The player sees it paid.
        player.reload()
        expect(player.locator("#withdrawal-state")).to_have_text("paid", timeout=15_000)
        player.screenshot(path=ARTIFACTS / "player-withdrawal-paid.png", full_page=True)
        browser.close()

    assert [p for p in problems if "Content Security Policy" in p] == []
    assert problems == []
