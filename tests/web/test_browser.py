"""The web UI in Debian's chromium (Playwright) against a whole local cloud: sign in, a bad
spec shows its field error, a job submitted through the form with an input file reaches
SUCCEEDED, shows where each attempt ran, cost and logs, and its output downloads; the price
chart names each series' region and zone. Saves screenshots for the docs."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import FilePayload, Page, async_playwright, expect

from cbas_async import localenv
from cbas_async.components import run_components
from cbas_async.master.app import open_master
from cbas_async.states import JobState
from tests.integration.conftest import E2E

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
# `make screenshots` refreshes the docs' pictures; a plain test run leaves the tree untouched
DOCS_SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
SHOTS = (
    DOCS_SHOTS
    if os.environ.get("CBAS_SCREENSHOTS") == "docs"
    else Path(tempfile.gettempdir(), "cbas-screenshots")
)
GREET = b"print('hello from the web UI')\nopen('greeting.txt', 'w').write('hi there\\n')\n"


@pytest.fixture
async def master_url(e2e: E2E) -> AsyncIterator[str]:
    """One master in this process, its HTTP app on 127.0.0.1 port 0."""
    settings = e2e.cloud.settings.replace(master_id="m-web", http_port=0)
    stopping = asyncio.Event()
    async with open_master(settings) as master, asyncio.TaskGroup() as group:
        group.create_task(run_components(master.components, stopping, 5.0))
        try:
            yield master.server.url
        finally:
            stopping.set()


def chromium_missing() -> bool:
    return not CHROMIUM.exists() and shutil.which("chromium") is None


@pytest.fixture
async def page(master_url: str) -> AsyncIterator[Page]:
    if chromium_missing():
        pytest.skip("chromium is not installed (make chromium installs it with apt-get)")
    async with async_playwright() as driver:
        browser = await driver.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        context = await browser.new_context(
            viewport={"width": 1000, "height": 720}, accept_downloads=True, base_url=master_url
        )
        opened = await context.new_page()
        opened.set_default_timeout(20_000)
        opened.on("console", lambda message: print("browser:", message.text))
        try:
            yield opened
        finally:
            await browser.close()


async def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / f"{name}.png"))


async def sign_in(page: Page, token: str) -> None:
    await page.goto("/")
    await page.fill("#token", "cbas_000000000000_" + "A" * 43)
    await page.click("button:text('Sign in')")
    await expect(page.locator("[role=alert]")).to_contain_text("refused")
    await shot(page, "sign-in")
    await page.fill("#token", token)
    await page.press("#token", "Enter")  # the keyboard is enough
    await expect(page.locator("h1")).to_have_text("Jobs")


async def test_submit_watch_and_download_in_the_browser(
    e2e: E2E, page: Page, tmp_path: Path
) -> None:
    token = localenv.read(e2e.cloud.settings.home / localenv.FILE_NAME)["CBAS_API_TOKEN"]
    await sign_in(page, token)  # the token `cbas local` wrote to local.env
    await page.click("text=Submit")
    await page.fill("#name", "bad name!")
    await page.fill("#command", "python3 greet.py")
    await page.click("button:text('Submit job')")
    await expect(page.locator("#err-name")).to_contain_text("must start with a letter or digit")
    await shot(page, "submit-error")
    assert await e2e.session.store.all_in_states(list(JobState)) == []

    await page.fill("#name", "web-hello")
    await page.fill("#output_files", "greeting.txt")
    greet: FilePayload = {"name": "greet.py", "mimeType": "text/x-python", "buffer": GREET}
    await page.set_input_files("#input_files", files=[greet])
    await page.click("button:text('Submit job')")
    await expect(page.locator("#job-state")).to_have_text("SUCCEEDED", timeout=120_000)
    await expect(page.locator("#cost")).to_contain_text("on-demand")
    await expect(page.locator("#logs")).to_contain_text("hello from the web UI")
    await expect(page.locator("#timeline")).to_contain_text("RUNNING")
    region = e2e.cloud.settings.region
    await expect(page.locator("#placement")).to_contain_text(region)
    attempt = page.locator("#attempts tr[data-attempt='1']")
    await expect(attempt.locator("td.region")).to_have_text(region)  # where attempt 1 ran
    await expect(attempt).to_contain_text("$")  # and its cost, once priced
    async with page.expect_download() as info:
        await page.click("text=Download greeting.txt")
    download = await info.value
    await download.save_as(tmp_path / "greeting.txt")
    assert (tmp_path / "greeting.txt").read_text() == "hi there\n"
    await shot(page, "job-detail")

    await page.click("nav >> text=Jobs")
    await expect(page.locator("td.state").first).to_have_text("SUCCEEDED")
    await shot(page, "jobs")
    await page.set_viewport_size({"width": 390, "height": 700})  # a phone
    await expect(page.locator("td.state").first).to_be_visible()
    await shot(page, "jobs-narrow")
    await page.set_viewport_size({"width": 1000, "height": 720})
    await page.click("text=Spot prices")
    await expect(page.locator("#prices svg, #prices p").first).to_be_visible()
    await expect(page.locator(f"#legend [data-region='{region}']")).to_contain_text(region)
    await expect(page.locator(f"#prices svg path[data-region='{region}']").first).to_be_attached()
    await shot(page, "prices")
    await page.click("text=Workers")
    await expect(page.locator("h1")).to_have_text("Workers")
    await shot(page, "workers")
