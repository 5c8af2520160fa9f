"""plugins/module_utils/browser.py and plugins/modules/browser_check.py with the real Chromium
(`make host` installs Debian's) against pages served from a temporary directory by an HTTP
server on 127.0.0.1 (a thread of this test process, stopped at the end of each test)."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from tools.testing import load_plugin, run_module

browser = load_plugin("module_utils", "browser")
browser_check = load_plugin("modules", "browser_check")

STRICT_CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:"
FAVICON = '<link rel="icon" href="data:,">'
PAGES = {
    # Renders its content from a script, like an SPA.
    "clean.html": f"<!doctype html><head>{FAVICON}<script src='/render.js' defer></script>"
    "</head><body><main id='app'></main></body>",
    "render.js": "document.getElementById('app').innerHTML = '<p id=\"ready\">ready</p>';",
    "console.html": f"<!doctype html><head>{FAVICON}<script src='/log.js'></script></head>",
    "log.js": "console.error('the dashboard broke');",
    "throws.html": f"<!doctype html><head>{FAVICON}<script src='/throw.js'></script></head>",
    "throw.js": "undefinedFunction();",
    # Served under STRICT_CSP: the inline script is blocked.
    "csp.html": f"<!doctype html><head>{FAVICON}<script>document.title = 'inline';</script>"
    "</head><body>blocked</body>",
    "csp-report-only.html": f"<!doctype html><head>{FAVICON}<script>1;</script></head>",
    "missing-script.html": f"<!doctype html><head>{FAVICON}"
    "<script src='/assets/index-deadbeef.js'></script></head>",
    # An SPA whose route is loaded lazily (a dynamic import), the way Vite splits a route.
    "spa.html": f"<!doctype html><head>{FAVICON}<script type='module' src='/spa.js'></script>"
    "</head><body><a id='go' href='#reports'>Reports</a><div id='view'></div></body>",
    "spa.js": "document.getElementById('go').addEventListener('click', async (event) => {\n"
    "  event.preventDefault();\n"
    "  const route = await import('/assets/reports-v1.js');\n"
    "  route.render(document.getElementById('view'));\n"
    "});\n",
    "assets/reports-v1.js": "export function render(view) {\n"
    "  view.innerHTML = '<table id=\"report\"><tr><td>1</td></tr></table>';\n}\n",
}


class Handler(http.server.SimpleHTTPRequestHandler):
    """Files of the directory; csp*.html under STRICT_CSP (enforced, or report-only)."""

    def end_headers(self) -> None:
        if self.path.startswith("/csp-report-only"):
            self.send_header("Content-Security-Policy-Report-Only", STRICT_CSP)
        elif self.path.startswith("/csp"):
            self.send_header("Content-Security-Policy", STRICT_CSP)
        super().end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def chromium() -> str:
    missing = browser.missing_requirement()
    assert missing == "", (
        f"{missing}: `make host` installs Debian's chromium, `make tools` playwright"
    )
    return str(browser.DEFAULT_EXECUTABLE)


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """The base URL of a server on 127.0.0.1 serving PAGES from a directory, and the directory."""
    for name, text in PAGES.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), partial(Handler, directory=str(tmp_path))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", tmp_path
    finally:
        server.shutdown()
        server.server_close()


def test_each_kind_of_problem_is_found_and_a_clean_page_has_none(
    chromium: str, site: tuple[str, Path]
) -> None:
    base, _ = site
    pages = ["clean", "console", "throws", "csp", "csp-report-only", "missing-script"]
    urls = [f"{base}/{page}.html" for page in pages]
    found = browser.check_pages(urls, chromium, wait_for={"/clean.html": "#ready"}, timeout_s=15)
    problems = dict(zip(pages, found.values(), strict=True))
    assert problems["clean"] == []
    assert problems["console"] == [f"console error: the dashboard broke (at {base}/log.js:1)"], (
        problems["console"]
    )
    assert len(problems["throws"]) == 1, problems["throws"]
    assert problems["throws"][0].startswith("uncaught error: ReferenceError: undefinedFunction")
    assert len(problems["csp"]) == 1, problems["csp"]
    assert problems["csp"][0].startswith("CSP violation: script-src-elem blocked inline")
    assert problems["csp-report-only"] == [], "report-only violations block nothing"
    assert problems["missing-script"] == [f"HTTP 404: GET {base}/assets/index-deadbeef.js"]


def test_report_only_violations_count_when_asked(chromium: str, site: tuple[str, Path]) -> None:
    base, _ = site
    url = f"{base}/csp-report-only.html"
    found = browser.check_pages([url], chromium, report_only_csp=True, timeout_s=15)
    assert len(found[url]) == 1, found
    assert found[url][0].startswith("CSP violation (report-only): script-src-elem blocked inline")


def test_a_selector_that_never_shows_up_is_a_problem_saying_what_the_page_shows(
    chromium: str, site: tuple[str, Path]
) -> None:
    base, _ = site
    url = f"{base}/csp.html"
    found = browser.check_pages([url], chromium, wait_for="#items tr", timeout_s=2)
    assert "not visible after 2 s: #items tr (the page shows: blocked)" in found[url], found


def test_a_server_name_reaches_the_address_it_is_mapped_to(
    chromium: str, site: tuple[str, Path]
) -> None:
    base, _ = site
    port = base.rsplit(":", 1)[1]
    url = f"http://shop.example.invalid:{port}/clean.html"
    resolve = {"shop.example.invalid": "127.0.0.1"}
    assert browser.check_pages([url], chromium, "#ready", 15, resolve) == {url: []}
    unmapped = browser.check_pages([url], chromium, timeout_s=15)[url]
    assert len(unmapped) == 1, unmapped
    assert unmapped[0].startswith(f"not loaded: {url} (net::ERR_NAME_NOT_RESOLVED")


def test_a_tab_kept_open_across_a_deploy_sees_its_lazy_route_go_missing(
    chromium: str, site: tuple[str, Path]
) -> None:
    """What the releases scenario checks against the real app: a tab of v1 clicks to a route
    loaded lazily after the deploy. Here the "deploy" removes v1's chunk: the click fails, and
    the tab says so; with the chunk there it renders."""
    base, root = site
    with browser.Browser(chromium, timeout_s=10) as chrome:
        tab = chrome.open(f"{base}/spa.html", wait_for="#go")
        assert tab.problems() == []
        tab.click("#go", wait_for="#report")
        assert tab.problems() == []
        # Opened again, then v1's chunk removed while the tab is open (a deploy without it).
        tab.goto(f"{base}/spa.html", wait_for="#go")
        (root / "assets" / "reports-v1.js").unlink()
        tab.clear()
        tab.click("#go", wait_for="#report", timeout_s=3)
        problems = tab.problems()
        tab.close()
    assert f"HTTP 404: GET {base}/assets/reports-v1.js" in problems, problems
    assert any(p.startswith("uncaught error: TypeError: Failed to fetch") for p in problems), (
        problems
    )
    assert any(p.startswith("not visible after 3 s: #report") for p in problems), problems


def test_the_module_fails_listing_each_pages_problems(
    chromium: str, site: tuple[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    base, _ = site
    urls = [f"{base}/clean.html", f"{base}/console.html", f"{base}/missing-script.html"]
    args = {"urls": urls, "executable": chromium, "wait_for": {"/clean.html": "#ready"}}
    result = run_module(browser_check, args, capsys)
    assert result["failed"] is True
    assert result["msg"].startswith("browser check: 2 of 3 pages have problems: "), result["msg"]
    assert f"{base}/console.html: console error: the dashboard broke" in result["msg"]
    assert f"{base}/missing-script.html: HTTP 404: GET {base}/assets/" in result["msg"]
    assert [page["ok"] for page in result["pages"]] == [True, False, False]
    assert result["failed_check"]["url"] == f"{base}/console.html"
    assert result["problems"][f"{base}/clean.html"] == []

    result = run_module(browser_check, {**args, "urls": urls[:1]}, capsys)
    assert result.get("failed") is not True, result
    assert result["problems"] == {urls[0]: []}


def test_the_module_names_what_is_missing(capsys: pytest.CaptureFixture[str]) -> None:
    result = run_module(
        browser_check,
        {"urls": ["http://127.0.0.1/"], "executable": "/nonexistent/chromium"},
        capsys,
    )
    assert result["failed"] is True
    assert "no browser executable at /nonexistent/chromium" in result["msg"]
    assert "apt-get install chromium" in result["msg"]
