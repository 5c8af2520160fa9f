"""The example app in a real browser: Debian's Chromium on the controller, through the
container's nginx at its address on the scenario's network (plugins/module_utils/browser.py).
The deploy role's browser check in the health gate: tests/test_gate.py (a no-change run)."""

from __future__ import annotations

from testinfra.host import Host

from tools.testing import load_plugin, network_address

browser = load_plugin("module_utils", "browser")
# The dashboard's table rows: rendered from GET /api/items.
ITEMS = "#items tbody tr"


def test_the_dashboard_renders_its_items_in_a_browser_without_a_problem(host: Host) -> None:
    """A deep link loaded straight away, and the same page reached from the home page by the
    SPA's own link: both render the API's items, with no console error, uncaught error, CSP
    violation or failed request."""
    base = f"http://{network_address(host)}"
    with browser.Browser(timeout_s=30) as chrome:
        deep_link = chrome.open(f"{base}/dashboard", wait_for=ITEMS)
        assert deep_link.problems() == []
        assert deep_link.page.locator(ITEMS).count() > 0
        deep_link.close()
        tab = chrome.open(f"{base}/", wait_for="a[href='/dashboard']")
        tab.click("a[href='/dashboard']", wait_for=ITEMS)
        assert tab.problems() == []
        assert tab.url == f"{base}/dashboard"
        tab.close()
