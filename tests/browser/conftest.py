import os
from urllib.parse import urlparse

import pytest
from django.conf import settings

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        pytest.fail(f"Chromium not found at {CHROMIUM}; `make test` installs Debian's chromium.")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class RequestLog:
    """Every request a page makes; tiles are answered locally (the network is closed in tests)."""

    def __init__(self, live_server_url: str) -> None:
        self.own_host = urlparse(live_server_url).netloc
        self.tile_host = urlparse(settings.MAP_TILE_URL.replace("{s}", "a")).netloc
        self.urls: list[str] = []

    def third_party(self) -> list[str]:
        return [
            url
            for url in self.urls
            if urlparse(url).scheme in ("http", "https")
            and urlparse(url).netloc not in (self.own_host, self.tile_host)
        ]


@pytest.fixture
def page_factory(browser, live_server):
    contexts = []

    def make(**context_args):
        # Playwright's string predicates (wait_for_function) are evaluated with eval, which the
        # site's Content-Security-Policy forbids; tests/browser/test_csp.py checks the pages
        # under the policy with bypass_csp=False.
        context = browser.new_context(locale="de-DE", **{"bypass_csp": True, **context_args})
        contexts.append(context)
        log = RequestLog(live_server.url)
        context.on("request", lambda request: log.urls.append(request.url))
        context.route(f"**/{log.tile_host}/**", lambda route: route.abort())
        page = context.new_page()
        page.request_log = log
        return page

    yield make
    for context in contexts:
        context.close()
