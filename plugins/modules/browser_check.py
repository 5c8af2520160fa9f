#!/usr/bin/python
# Copyright: fullstack.webapp maintainers
# MIT License (see galaxy.yml)
"""Load pages in a real headless Chromium and fail on what a user would see go wrong."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: browser_check
short_description: Load pages in a headless Chromium and fail on the problems a user would see
version_added: 0.2.0
description:
  - Loads each URL of O(urls) in a fresh tab of a real, headless Chromium driven by
    Playwright, waits for its C(load) event (and, with O(wait_for), until a CSS selector is
    visible, so that the page really rendered, for example the data an API call returned),
    then lists the problems a user would see there.
  - "A problem is a console message of type error; an uncaught error (C(pageerror)); a
    Content Security Policy violation (a C(securitypolicyviolation) event, or the browser's
    console message about it); a response of 400 or more to a request to the page's own
    origin; a request that failed (any origin; requests a navigation cancelled are not);
    a page that did not load; a selector of O(wait_for) not visible in time."
  - Fails when any page has a problem, listing each page's problems. Read-only; runs in
    check mode too.
  - Runs where the browser is, normally the controller (C(delegate_to=localhost)), with a
    Python that has the C(playwright) package (C(ansible_playbook_python) is the one that runs
    Ansible). Playwright drives the Chromium at O(executable) and never downloads a browser.
    With an empty O(urls) it only checks that a browser can start there (Playwright imports
    and O(executable) exists), without starting one.
  - The C(fullstack.webapp.deploy) role runs it in its health gate when
    C(deploy_browser_check) is on.
options:
  urls:
    description: The pages to load, each in a tab of its own, in order.
    type: list
    elements: str
    required: true
  wait_for:
    description:
      - A CSS selector to wait for (until it is visible) on a page, by the page's URL or by
        its path (for example C(/dashboard) mapped to C(#items tbody tr)). A page without one is
        checked once it loaded and its network went idle (5 s at most).
    type: dict
    default: {}
  executable:
    description: The Chromium to drive (Debian's C(chromium) package installs C(/usr/bin/chromium)).
    type: path
    default: /usr/bin/chromium
  resolve:
    description:
      - Host names mapped to the address the browser connects to instead of asking DNS
        (Chromium's C(--host-resolver-rules)), for example C(shop.example.com) mapped to
        C(192.0.2.10), so that a URL with the site's server name reaches a given gateway and
        nginx sees that name.
    type: dict
    default: {}
  timeout:
    description: Seconds each page may take to load and show O(wait_for).
    type: float
    default: 30
  report_only_csp:
    description:
      - Also count the violations of a C(Content-Security-Policy-Report-Only) policy as
        problems (they block nothing; off, they are left to the policy's report log).
    type: bool
    default: false
attributes:
  check_mode:
    description: Runs in check mode too; it only reads.
    support: full
  diff_mode:
    description: Nothing changes, so there is no diff.
    support: none
  platform:
    description: Where Playwright for Python and a Chromium run.
    support: full
    platforms: posix
requirements:
  - playwright (Python package) on the Python that runs the module
  - a Chromium at O(executable)
author:
  - fullstack.webapp maintainers (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Check the home page and a deep link in a real browser, from the controller
  fullstack.webapp.browser_check:
    urls:
      - http://shop.example.com/
      - http://shop.example.com/dashboard
    wait_for:
      /dashboard: "#items tbody tr"
    resolve:
      shop.example.com: 192.0.2.10
  delegate_to: localhost
  become: false
  vars:
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
"""

RETURN = r"""
pages:
  description: One result per URL, in order.
  returned: always
  type: list
  elements: dict
  contains:
    url:
      description: The URL loaded.
      type: str
    problems:
      description: What a user would see go wrong there, one line each (empty when nothing).
      type: list
      elements: str
    ok:
      description: Whether the page has no problem.
      type: bool
problems:
  description: Each URL's problems, by URL.
  returned: always
  type: dict
  sample: {"http://shop.example.com/": [], "http://shop.example.com/dashboard": ["HTTP 502: GET http://shop.example.com/api/items"]}
failed_check:
  description: The first page with a problem (its result), when one has.
  returned: when a page has a problem
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.fullstack.webapp.plugins.module_utils.browser import (
    BrowserUnavailable,
    check_pages,
    missing_requirement,
)


def failure_message(found: dict[str, list[str]]) -> str:
    """browser check: N of M pages have problems: URL: problem; problem | URL: ..."""
    failed = {url: problems for url, problems in found.items() if problems}
    listed = " | ".join(f"{url}: {'; '.join(problems)}" for url, problems in failed.items())
    return f"browser check: {len(failed)} of {len(found)} pages have problems: {listed}"


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "urls": {"type": "list", "elements": "str", "required": True},
            "wait_for": {"type": "dict", "default": {}},
            "executable": {"type": "path", "default": "/usr/bin/chromium"},
            "resolve": {"type": "dict", "default": {}},
            "timeout": {"type": "float", "default": 30},
            "report_only_csp": {"type": "bool", "default": False},
        },
        supports_check_mode=True,
    )
    params = module.params
    if params["timeout"] <= 0:
        module.fail_json(msg="timeout must be more than 0")
    missing = missing_requirement(params["executable"])
    if missing:
        module.fail_json(msg=f"browser check: {missing}")
    wait_for = {str(key): str(value) for key, value in params["wait_for"].items()}
    resolve = {str(key): str(value) for key, value in params["resolve"].items()}
    try:
        found = check_pages(
            params["urls"],
            params["executable"],
            wait_for=wait_for,
            timeout_s=params["timeout"],
            resolve=resolve,
            report_only_csp=params["report_only_csp"],
        )
    except (BrowserUnavailable, ValueError) as error:
        module.fail_json(msg=f"browser check: {error}")
    results: list[dict[str, object]] = [
        {"url": url, "problems": problems, "ok": not problems} for url, problems in found.items()
    ]
    if any(found.values()):
        first = next(result for result in results if not result["ok"])
        module.fail_json(
            msg=failure_message(found), pages=results, problems=found, failed_check=first
        )
    module.exit_json(changed=False, pages=results, problems=found)


if __name__ == "__main__":
    main()
