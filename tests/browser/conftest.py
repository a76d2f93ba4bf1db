"""Browser fixtures: Debian's Chromium driven by Playwright, axe-core for accessibility.

`bash tests/browser/install.sh` installs Chromium and axe-core. Without them (or without the
`playwright` package) these tests are skipped, unless CI is set: then they fail with the reason.

The browser is function-scoped on purpose: Playwright's async objects belong to the event loop that
created them, and pytest-asyncio gives every test (and the `island` fixture) its own loop.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

HERE = Path(__file__).parent
CHROMIUM = os.environ.get("ARCHIPEL_CHROMIUM", "/usr/bin/chromium")
AXE = HERE / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]
LOCALE = "fr-FR"


def unavailable(reason: str):
    """Skip, or in CI (where the browser tests must run) fail loudly."""
    if os.environ.get("CI"):
        pytest.fail(f"browser tests cannot run in CI: {reason} (run: bash tests/browser/install.sh)",
                    pytrace=False)
    pytest.skip(f"{reason} (run: bash tests/browser/install.sh)")


_REPORTS = pytest.StashKey[dict]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test item, so fixtures can see whether the test failed."""
    report = yield
    item.stash.setdefault(_REPORTS, {})[report.when] = report
    return report


def failed(request) -> bool:
    report = request.node.stash.get(_REPORTS, {}).get("call")
    return report is not None and report.failed


@pytest.fixture
async def browser():
    try:
        from playwright.async_api import Error as PlaywrightError
        from playwright.async_api import async_playwright
    except ImportError as error:
        unavailable(f"the playwright package is not installed ({error}); pip install -e '.[test]'")
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        unavailable(f"no Chromium at {CHROMIUM}")

    playwright = await async_playwright().start()
    try:
        try:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                                       args=CHROMIUM_ARGS, timeout=30_000)
        except PlaywrightError as error:
            unavailable(f"Chromium at {CHROMIUM} does not start: {error.message.splitlines()[0]}")
        try:
            yield browser
        finally:
            await browser.close()
    finally:
        await playwright.stop()


@pytest.fixture
async def new_page(browser, request, tmp_path):
    """Factory: `await new_page(**context_options)`, a fresh context and page, French by default.

    On a test failure, each page's screenshot is saved under the test's tmp_path and its path is
    printed with the failure."""
    contexts = []

    async def make(**options):
        options = {"locale": LOCALE, "viewport": {"width": 1280, "height": 900}, **options}
        from playwright.async_api import Error as PlaywrightError

        try:
            context = await browser.new_context(**options)
        except PlaywrightError as error:
            # The close that a dismissed `beforeunload` put off (see close_context) may end while
            # the next context is being made, and Playwright fails that call: about one run in
            # six of test_an_autosaved_draft_survives_closing_the_browser. Once more, then.
            if "has been closed" not in error.message or not browser.is_connected():
                raise
            context = await browser.new_context(**options)
        context.set_default_timeout(10_000)
        contexts.append(context)
        return await context.new_page()

    yield make
    for number, context in enumerate(contexts):
        if failed(request):
            for page in context.pages:
                await save_screenshot(page, tmp_path / f"failure-{number}.png")
        await close_context(context)


async def close_context(context) -> None:
    """Close a browser context, or find it closed already: after a `beforeunload` dialog was
    dismissed, Chromium may still be finishing the close it put off, and Playwright then says the
    target has been closed (seen once in a loaded suite; microsoft/playwright#37597 is near)."""
    from playwright.async_api import Error

    try:
        await context.close()
    except Error as error:
        if "has been closed" not in error.message:
            raise


@pytest.fixture
async def page(new_page):
    """A fresh context and page for the test, locale fr-FR."""
    return await new_page()


async def save_screenshot(page, path: Path) -> Path | None:
    """Full-page screenshot to `path`; reports the path (and never fails the teardown)."""
    try:
        await page.screenshot(path=str(path), full_page=True)
    except Exception as error:  # the page may be closed or crashed: the test's own failure matters
        print(f"screenshot of {page.url} failed: {error}")
        return None
    print(f"screenshot of {page.url}: {path}")
    return path


async def axe_violations(page, impact=("serious", "critical")) -> list[dict]:
    """Runs axe-core in the page; returns the violations at the given impacts, each as
    {"id", "impact", "help", "helpUrl", "nodes": [{"target", "html", "summary"}]}.

    axe is evaluated through the DevTools protocol, not a <script> tag: the pages' CSP
    (script-src 'self') rightly refuses inline scripts."""
    if not AXE.is_file():
        unavailable(f"axe-core is not installed ({AXE} missing)")
    if not await page.evaluate("typeof window.axe !== 'undefined'"):
        await page.evaluate(AXE.read_text(encoding="utf-8"))
    results = await page.evaluate(
        """async () => {
            const results = await axe.run(document, {resultTypes: ["violations"]});
            return results.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
                nodes: v.nodes.map(n => ({target: n.target, html: n.html, summary: n.failureSummary})),
            }));
        }"""
    )
    return [violation for violation in results if violation["impact"] in impact]


def describe_violations(violations: list[dict]) -> str:
    """Readable text for an assertion message."""
    lines = []
    for violation in violations:
        lines.append(f"[{violation['impact']}] {violation['id']}: {violation['help']} ({violation['helpUrl']})")
        for node in violation["nodes"]:
            summary = re.sub(r"\s+", " ", node["summary"] or "")
            lines.append(f"    {json.dumps(node['target'])} {node['html'][:160]}\n      {summary}")
    return "\n".join(lines)
