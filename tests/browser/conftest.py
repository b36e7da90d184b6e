"""Browser tests: the real application served by werkzeug on a free port (in a thread, on the test
database) and driven by Debian's headless Chromium through Selenium and /usr/bin/chromedriver.

Nothing is downloaded: Selenium Manager is skipped because the driver path is given. Screenshots go to
test-artifacts/screenshots/ (a folder that ignores itself in git).
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.chrome.webdriver import WebDriver
from werkzeug.serving import make_server

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--lang=en-US")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
SCREENSHOTS = ARTIFACTS / "screenshots"
DESKTOP = (1280, 900)


@pytest.fixture
def live_server(app: Flask) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()


@pytest.fixture(scope="session")
def chromium() -> Iterator[WebDriver]:
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.fail(f"Chromium or chromedriver missing ({CHROMIUM}, {CHROMEDRIVER}): "
                    "apt-get install -y chromium chromium-driver (make test does it)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_window_size(*DESKTOP)
    yield driver
    driver.quit()


@pytest.fixture
def browser(chromium: WebDriver, live_server: str) -> Iterator[WebDriver]:
    """The shared Chromium with no cookies from earlier tests (every live server is on 127.0.0.1)."""
    chromium.get(live_server + "/login")
    chromium.delete_all_cookies()
    chromium.set_window_size(*DESKTOP)
    yield chromium
    chromium.delete_all_cookies()


@pytest.fixture
def screenshot(chromium: WebDriver) -> Callable[[str], Path]:
    """Save the whole current page as test-artifacts/screenshots/<name>.png."""

    def save(name: str, width: int = DESKTOP[0]) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / ".gitignore").write_text("*\n")
        chromium.set_window_size(width, DESKTOP[1])
        height = chromium.execute_script("return document.documentElement.scrollHeight")
        chromium.set_window_size(width, max(height, 600))
        chromium.execute_script("window.scrollTo(0, 0)")
        path = SCREENSHOTS / f"{name}.png"
        chromium.save_screenshot(str(path))
        chromium.set_window_size(*DESKTOP)
        return path

    return save
