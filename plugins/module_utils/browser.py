# Copyright: fullstack.webapp maintainers
# MIT License (see galaxy.yml)
"""Pages loaded in a real, headless Chromium, and the problems a user would see there.

Drives a Chromium installed on the machine (Debian's ``chromium`` package: ``/usr/bin/chromium``)
with Playwright's sync API; Playwright never downloads a browser of its own here. Shared by the
``fullstack.webapp.browser_check`` module (the deploy role's browser check) and the tests.

A problem is one line of text, one of::

    console error: TEXT (at URL:LINE)
    uncaught error: NAME: MESSAGE
    CSP violation: DIRECTIVE blocked BLOCKED (at URL:LINE) [SAMPLE]
    HTTP 404: GET URL                            (a request to the page's own origin)
    request failed: GET URL (net::ERR_...)       (any origin; navigations cancelled are not)
    not loaded: URL (net::ERR_CONNECTION_REFUSED ...)
    not visible after 10 s: SELECTOR (the page shows: TEXT)

CSP violations come from ``securitypolicyviolation`` events (an init script listens for them in
every frame) and, when none was caught that way, from the browser's console messages about the
Content Security Policy. Report-only violations (``Content-Security-Policy-Report-Only``) block
nothing and are not problems unless ``report_only_csp`` is true. A failed load is not reported
twice: the console's "Failed to load resource" line for a URL already reported is left out.

One-shot use::

    problems = check_pages(["http://shop.example.com/", "http://shop.example.com/dashboard"],
                           wait_for={"/dashboard": "#items tbody tr"},
                           resolve={"shop.example.com": "192.0.2.10"})
    # {"http://shop.example.com/": [], "http://shop.example.com/dashboard": []}

A tab kept open while something else happens (a deploy), then used again::

    with Browser(resolve={"shop.example.com": "192.0.2.10"}) as browser:
        tab = browser.open("http://shop.example.com/", wait_for="#app nav")
        before = tab.problems()         # [] when the page is fine
        deploy_v2()
        tab.clear()                     # forget what was seen so far
        tab.click("a[href='/reports']", wait_for="#report")   # a route loaded lazily
        after = tab.problems()

Playwright is imported only when a browser starts: without it, ``Browser`` and ``check_pages``
raise ``BrowserUnavailable`` naming the missing package (``missing_requirement()`` tells first).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from playwright.sync_api import Browser as PlaywrightBrowser
    from playwright.sync_api import ConsoleMessage, Frame, Page, Playwright, Request, Response
    from playwright.sync_api import Error as PlaywrightError

DEFAULT_EXECUTABLE = "/usr/bin/chromium"
DEFAULT_TIMEOUT_S = 30.0
# After a load, a click or a selector showed up: at most this long for the page's network to
# go idle (no request for 0.5 s), so that late errors (an API call that fails after the first
# render) arrive.
SETTLE_S = 5.0
# What the page shows, in a "not visible" problem.
SHOWN_CHARS = 200

_BINDING = "__fullstackWebappCspViolation"
_INIT_SCRIPT = """
document.addEventListener('securitypolicyviolation', (event) => {
  try {
    window.BINDING(JSON.stringify({
      directive: event.effectiveDirective || event.violatedDirective || '',
      blocked: event.blockedURI || '',
      source: event.sourceFile || '',
      line: event.lineNumber || 0,
      sample: event.sample || '',
      disposition: event.disposition || 'enforce',
    }));
  } catch (error) { /* the page replaced the binding: the console still says it */ }
}, true);
""".replace("BINDING", _BINDING)
_IGNORED_FAILURES = ("net::ERR_ABORTED",)  # a navigation cancelled its own requests


class BrowserUnavailable(RuntimeError):
    """No browser could be started: Playwright is missing, or the executable is."""


def missing_requirement(executable: str = DEFAULT_EXECUTABLE) -> str:
    """Why no browser can start here ("" when Playwright imports and the executable exists)."""
    if importlib.util.find_spec("playwright") is None:
        return (
            "the Python package playwright is missing from the Python that runs this check "
            "(install it there: pip install playwright; it drives the machine's own Chromium "
            "and needs no browser download)"
        )
    if not os.access(executable, os.X_OK):
        return (
            f"no browser executable at {executable} (on Debian: apt-get install chromium; "
            "or name another Chromium)"
        )
    return ""


def resolver_rules(resolve: Mapping[str, str]) -> str:
    """Chromium's --host-resolver-rules value that sends each host name to its address."""
    rules = []
    for name, address in resolve.items():
        for value in (name, address):
            if not value or any(char in value for char in ", \t\n"):
                raise ValueError(f"not a host name or address for the resolver: {value!r}")
        target = f"[{address}]" if ":" in address and not address.startswith("[") else address
        rules.append(f"MAP {name} {target}")
    return ", ".join(rules)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _selector_for(url: str, wait_for: str | Mapping[str, str] | None) -> str | None:
    if wait_for is None or isinstance(wait_for, str):
        return wait_for or None
    return wait_for.get(url) or wait_for.get(urlsplit(url).path or "/") or None


@dataclass(frozen=True)
class _Seen:
    kind: str  # console, csp-console, csp, load, uncaught, navigation, selector
    text: str
    url: str = ""


class Tab:
    """One open page (a tab of its own browser context: a first visit's empty cache).

    Records, from its opening, what a user would see go wrong: ``problems()`` lists it.
    Get one from ``Browser.open``.
    """

    def __init__(self, page: Page, timeout_s: float, report_only_csp: bool) -> None:
        self._page = page
        self._timeout_s = timeout_s
        self._report_only_csp = report_only_csp
        self._seen: list[_Seen] = []
        self._origin = ""
        page.expose_binding(_BINDING, self._on_csp_event)
        page.add_init_script(_INIT_SCRIPT)
        page.on("console", self._on_console)
        page.on("pageerror", self._on_page_error)
        page.on("response", self._on_response)
        page.on("requestfailed", self._on_request_failed)
        page.on("framenavigated", self._on_frame_navigated)

    @property
    def page(self) -> Page:
        """The Playwright page, for what this class does not do."""
        return self._page

    @property
    def url(self) -> str:
        return self._page.url

    def goto(self, url: str, wait_for: str | None = None, timeout_s: float | None = None) -> Tab:
        """Load url (a full page load) and wait for its load event; then, with wait_for, until
        that CSS selector is visible. A page that does not load, or a selector that does not
        show up within timeout_s (the browser's by default), is a problem, not an exception."""
        allowed_s = timeout_s or self._timeout_s
        deadline = time.monotonic() + allowed_s
        self._origin = _origin(url)
        try:
            self._page.goto(url, wait_until="load", timeout=self._ms_left(deadline))
        except _playwright_error() as error:
            self._seen.append(_Seen("navigation", f"not loaded: {url} ({_reason(error)})", url))
            return self
        return self._after_action(wait_for, deadline, allowed_s)

    def click(
        self, selector: str, wait_for: str | None = None, timeout_s: float | None = None
    ) -> Tab:
        """Click the element selector names (a link of the SPA: the router navigates in the
        page, loading the route's code when it is split out), then wait for wait_for like
        ``goto``. An element that cannot be clicked is a problem."""
        allowed_s = timeout_s or self._timeout_s
        deadline = time.monotonic() + allowed_s
        try:
            self._page.click(selector, timeout=self._ms_left(deadline))
        except _playwright_error() as error:
            self._seen.append(_Seen("selector", f"could not click {selector}: {_reason(error)}"))
            return self
        return self._after_action(wait_for, deadline, allowed_s)

    def wait_for(self, selector: str, timeout_s: float | None = None) -> bool:
        """Wait until the CSS selector is visible; False (and a problem saying what the page
        shows) when it is not within timeout_s."""
        seconds = timeout_s or self._timeout_s
        return self._wait_visible(selector, seconds, seconds)

    def problems(self) -> list[str]:
        """What went wrong since the tab opened (or since ``clear()``), in order, one line each."""
        self._pump()
        csp_events = any(seen.kind == "csp" for seen in self._seen)
        failed_urls = {seen.url for seen in self._seen if seen.kind == "load"}
        not_loaded = {seen.url for seen in self._seen if seen.kind == "navigation"}
        problems: list[str] = []
        for seen in self._seen:
            if seen.kind == "csp-console" and csp_events:
                continue
            if seen.kind == "load" and seen.url in not_loaded:
                continue
            if (
                seen.kind == "console"
                and seen.url in failed_urls
                and seen.text.startswith("console error: Failed to load resource")
            ):
                continue
            if seen.text not in problems:
                problems.append(seen.text)
        return problems

    def clear(self) -> None:
        """Forget what was seen so far (before the next step of a test)."""
        self._pump()
        self._seen.clear()

    def close(self) -> None:
        self._page.context.close()

    # What the page reports.

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        text = message.text
        location = message.location or {}
        url = str(location.get("url") or "")
        line = location.get("lineNumber")  # from 0
        where = f" (at {url}:{line + 1})" if url and line is not None else ""
        if "Content Security Policy" in text:
            if text.startswith("[Report Only]") and not self._report_only_csp:
                return
            self._seen.append(_Seen("csp-console", f"CSP violation: {text}{where}", url))
            return
        self._seen.append(_Seen("console", f"console error: {text}{where}", url))

    def _on_page_error(self, error: PlaywrightError) -> None:
        name = error.name or "Error"
        self._seen.append(_Seen("uncaught", f"uncaught error: {name}: {error.message}"))

    def _on_csp_event(self, _source: Mapping[str, object], report_json: str) -> None:
        report = json.loads(report_json)
        if report.get("disposition") == "report" and not self._report_only_csp:
            return
        where = f" (at {report['source']}:{report['line']})" if report.get("source") else ""
        sample = f" [{report['sample']}]" if report.get("sample") else ""
        label = (
            "CSP violation (report-only)"
            if report.get("disposition") == "report"
            else "CSP violation"
        )
        blocked = report.get("blocked") or "(unknown)"
        text = f"{label}: {report.get('directive')} blocked {blocked}{where}{sample}"
        self._seen.append(_Seen("csp", text))

    def _on_response(self, response: Response) -> None:
        if response.status >= 400 and _origin(response.url) == self._origin:
            request = response.request
            text = f"HTTP {response.status}: {request.method} {response.url}"
            self._seen.append(_Seen("load", text, response.url))

    def _on_request_failed(self, request: Request) -> None:
        failure = request.failure or "failed"
        if any(ignored in failure for ignored in _IGNORED_FAILURES):
            return
        text = f"request failed: {request.method} {request.url} ({failure})"
        self._seen.append(_Seen("load", text, request.url))

    def _on_frame_navigated(self, frame: Frame) -> None:
        if frame == self._page.main_frame and frame.url.startswith(("http:", "https:")):
            self._origin = _origin(frame.url)

    # Helpers.

    def _wait_visible(self, selector: str, seconds: float, allowed_s: float) -> bool:
        try:
            self._page.wait_for_selector(selector, state="visible", timeout=seconds * 1000)
        except _playwright_error():
            shown = self._shown()
            text = f"not visible after {allowed_s:.3g} s: {selector}{shown}"
            self._seen.append(_Seen("selector", text))
            return False
        return True

    def _after_action(self, wait_for: str | None, deadline: float, allowed_s: float) -> Tab:
        if wait_for:
            self._wait_visible(wait_for, max(deadline - time.monotonic(), 0.001), allowed_s)
        self._settle(deadline)
        return self

    def _settle(self, deadline: float) -> None:
        """Let the page's late requests finish (network idle) and late errors arrive."""
        try:
            self._page.wait_for_load_state("networkidle", timeout=self._ms_left(deadline, SETTLE_S))
        except _playwright_error():
            pass  # an app that keeps polling is never idle: its errors so far still count

    def _pump(self) -> None:
        """Deliver the events the browser sent and the sync API has not dispatched yet."""
        try:
            self._page.evaluate("0")
        except _playwright_error():
            pass  # a closed or crashed page: what it sent is all there is

    def _shown(self) -> str:
        try:
            text = str(self._page.evaluate("document.body ? document.body.innerText : ''"))
        except _playwright_error():
            return ""
        text = " ".join(text.split())[:SHOWN_CHARS]
        return f" (the page shows: {text})" if text else " (the page shows nothing)"

    @staticmethod
    def _ms_left(deadline: float, cap_s: float | None = None) -> float:
        left = max(deadline - time.monotonic(), 0.001)
        return min(left, cap_s) * 1000 if cap_s is not None else left * 1000


class Browser:
    """A headless Chromium, as a context manager: ``with Browser() as browser: ...``.

    executable: the Chromium to drive (Debian's by default). resolve: host name -> address
    (``{"shop.example.com": "192.0.2.10"}``), so that URLs with the site's name reach a given
    server without DNS (Chromium's --host-resolver-rules). timeout_s: the default time a load,
    a click or a selector may take. report_only_csp: also count the violations of a
    Content-Security-Policy-Report-Only as problems.
    """

    def __init__(
        self,
        executable: str = DEFAULT_EXECUTABLE,
        resolve: Mapping[str, str] | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        report_only_csp: bool = False,
    ) -> None:
        self.executable = executable
        self.resolve = dict(resolve or {})
        self.timeout_s = timeout_s
        self.report_only_csp = report_only_csp
        self._playwright: Playwright | None = None
        self._browser: PlaywrightBrowser | None = None

    def __enter__(self) -> Browser:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def start(self) -> None:
        """Start the browser (``with`` does it); BrowserUnavailable when it cannot start."""
        missing = missing_requirement(self.executable)
        if missing:
            raise BrowserUnavailable(missing)
        from playwright.sync_api import Error, sync_playwright

        args = [f"--host-resolver-rules={resolver_rules(self.resolve)}"] if self.resolve else []
        self._playwright = sync_playwright().start()
        try:
            self._browser = self._playwright.chromium.launch(
                executable_path=self.executable, headless=True, args=args
            )
        except Error as error:
            self.close()
            raise BrowserUnavailable(f"{self.executable} did not start: {error.message}") from None

    def open(self, url: str, wait_for: str | None = None, timeout_s: float | None = None) -> Tab:
        """A new tab (in a browser context of its own) loaded with url, see ``Tab.goto``."""
        if self._browser is None:
            raise RuntimeError("the browser is not started: use `with Browser(...) as browser`")
        context = self._browser.new_context(ignore_https_errors=False)
        tab = Tab(context.new_page(), self.timeout_s, self.report_only_csp)
        return tab.goto(url, wait_for=wait_for, timeout_s=timeout_s)

    def close(self) -> None:
        if self._browser is not None:
            try:
                self._browser.close()
            finally:
                self._browser = None
        if self._playwright is not None:
            try:
                self._playwright.stop()
            finally:
                self._playwright = None


def check_pages(
    urls: Sequence[str],
    executable: str = DEFAULT_EXECUTABLE,
    wait_for: str | Mapping[str, str] | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    resolve: Mapping[str, str] | None = None,
    report_only_csp: bool = False,
) -> dict[str, list[str]]:
    """Each URL loaded in a fresh tab: its problems (an empty list for a clean page).

    wait_for: one CSS selector that must become visible on every page, or a mapping from a URL
    (or a URL's path, such as ``/dashboard``) to its selector. timeout_s: per page.
    """
    results: dict[str, list[str]] = {}
    with Browser(executable, resolve, timeout_s, report_only_csp) as browser:
        for url in urls:
            tab = browser.open(url, wait_for=_selector_for(url, wait_for))
            try:
                results[url] = tab.problems()
            finally:
                tab.close()
    return results


def _playwright_error() -> type[Exception]:
    from playwright.sync_api import Error

    return Error


def _reason(error: Exception) -> str:
    """The first line of a Playwright error, without the call's name ("Page.goto: ")."""
    message = str(getattr(error, "message", None) or error).strip()
    first = message.splitlines()[0] if message else type(error).__name__
    return re.sub(r"^\w+\.\w+: ", "", first)
