"""The player web app end to end in headless Debian chromium (Playwright's driver, no browser
download) against a real uvicorn process on 127.0.0.1 with the embedded store in a temporary
directory: a player registers, tops up through the sandbox checkout, sees the balance arrive
live over SSE, draws five times, verifies the draws in the browser after the epoch's seed is
revealed, and requests a withdrawal. Screenshots of the main pages go to tests/artifacts/.

Without /usr/bin/chromium the test is skipped on a workstation and fails in CI (CI=true).
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from domain.cause import Cause
from domain.prizes import PoolControls, Prize
from infrastructure.bootstrap import bootstrap
from infrastructure.settings import Settings

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"
OP = "operator:e2e"
PASSWORD = "correct horse battery staple"
IBAN = "DE89370400440532013000"


def _chromium_or_skip() -> None:
    if Path(CHROMIUM).exists():
        return
    message = f"{CHROMIUM} is missing (apt-get install chromium)"
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(message)
    pytest.skip(message)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _environment(data_dir: Path) -> dict[str, str]:
    """The server's environment: embedded (no DATABASE_URL, no Redis), cheap argon2."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("PRIZELEDGER_") and k not in {"DATABASE_URL", "REDIS_URL"}
    }
    env.update(
        PRIZELEDGER_DATA_DIR=str(data_dir),
        PRIZELEDGER_ARGON2_TIME_COST="1",
        PRIZELEDGER_ARGON2_MEMORY_KIB="1024",
        PRIZELEDGER_ARGON2_PARALLELISM="1",
    )
    return env


def _with_system(env: dict[str, str], act: str) -> None:
    """Operator steps on the server's store (the same SQLite files), from this process."""
    system = bootstrap(Settings.from_env(env))
    try:
        if act == "open_pool":
            pools = system.pools
            pools.create("wheel", "The wheel", 100, PoolControls(), Cause(OP, "create"))
            pools.add_prize("wheel", Prize("gem", "Gem", "cash", 150, 30), Cause(OP, "gem"))
            pools.add_prize("wheel", Prize("coin", "Coin", "bonus", 20, 30), Cause(OP, "coin"))
            pools.fund("wheel", 1_000_000, Cause(OP, "fund"))
        elif act == "rotate":
            system.pools.rotate_epoch("wheel", Cause(OP, "rotate"))
    finally:
        system.close()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """A real player app process on a free 127.0.0.1 port; yields (base URL, its env)."""
    env = _environment(tmp_path / "data")
    _with_system(env, "open_pool")
    port = _free_port()
    log = (tmp_path / "server.log").open("w")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "interfaces.player.app:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(base, process, tmp_path / "server.log")
        yield base, env
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _wait_until_up(base: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the server exited:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{base}/health/live", timeout=1) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"the server did not start:\n{log.read_text()}")


def test_a_player_registers_tops_up_draws_verifies_and_withdraws(
    server: tuple[str, dict[str, str]],
) -> None:
    _chromium_or_skip()
    from playwright.sync_api import expect, sync_playwright

    base, env = server
    ARTIFACTS.mkdir(exist_ok=True)
    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        context = browser.new_context(base_url=base, viewport={"width": 390, "height": 844})
        page = context.new_page()
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda error: problems.append(str(error)))

        # Register: straight into the wallet, signed in.
        page.goto("/register")
        page.get_by_label("E-mail address").fill("e2e@example.com")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Create account").click()
        expect(page).to_have_url(f"{base}/wallet")
        expect(page.locator("[data-balance=available]")).to_have_text("0.00 EUR")
        page.screenshot(path=ARTIFACTS / "player-wallet-empty.png", full_page=True)

        # Top up in a second tab; the wallet tab's balance arrives live over SSE.
        shop = context.new_page()
        shop.goto("/deposit")
        shop.get_by_label("Amount (EUR)").fill("50")
        shop.get_by_role("button", name="Continue to checkout").click()
        expect(shop).to_have_url(re.compile(r"/checkout/"))
        shop.screenshot(path=ARTIFACTS / "player-checkout.png", full_page=True)
        shop.get_by_role("button", name="Pay").click()
        expect(shop.locator("#deposit-state")).to_have_text("credited")
        expect(page.locator("[data-balance=available]")).to_have_text("50.00 EUR", timeout=15_000)
        shop.close()

        # Draw five times: the panel is swapped in by htmx and the results revealed.
        page.goto("/pools/wheel")
        expect(page.get_by_role("rowheader", name="Gem")).to_be_visible()
        page.get_by_label("Number of draws").select_option("5")
        page.get_by_role("button", name="Draw", exact=True).click()
        expect(page.locator("#draw-panel .result.shown")).to_have_count(5)
        page.screenshot(path=ARTIFACTS / "player-pool-draw.png", full_page=True)

        # Verify: the seed is secret until the epoch rotates; then the browser recomputes.
        page.get_by_role("link", name="Verify this draw").click()
        expect(page.locator("[data-server-verdict=pending]")).to_have_count(5)
        _with_system(env, "rotate")
        page.reload()
        expect(page.locator("[data-server-verdict=verified]")).to_have_count(5)
        for button in page.locator("[data-recompute]").all():
            button.click()
        expect(page.locator("[data-browser-verdict][data-result=match]")).to_have_count(5)
        page.screenshot(path=ARTIFACTS / "player-verify.png", full_page=True)

        # Withdraw to a new bank account.
        page.goto("/withdrawals")
        page.get_by_label("IBAN").fill(IBAN)
        page.get_by_label("Account holder").fill("E2E Player")
        page.get_by_role("button", name="Add payout method").click()
        page.get_by_label("Amount (EUR)").fill("10")
        page.get_by_role("button", name="Request withdrawal").click()
        expect(page.locator("#withdrawal-state")).to_have_text("requested")
        # The timeline fills in once the audit read model has the request (htmx refresh).
        expect(page.locator(".timeline li")).to_have_text([re.compile("Requested")])
        page.screenshot(path=ARTIFACTS / "player-withdrawal.png", full_page=True)

        # The same pages in Chinese.
        page.get_by_role("button", name="简体中文").click()
        expect(page.locator("h1")).to_have_text("提现")
        page.goto("/wallet")
        expect(page.locator("[data-balance=locked]")).to_have_text("10.00 EUR", timeout=15_000)
        page.screenshot(path=ARTIFACTS / "player-wallet-zh.png", full_page=True)
        browser.close()

    assert [p for p in problems if "Content Security Policy" in p] == []
    assert problems == []
