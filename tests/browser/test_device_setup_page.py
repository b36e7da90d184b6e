"""Issue 6 item 5 in a real browser: an area supervisor opens the device-setup page, prints one
commune's QR codes, and the codes are real images the browser can draw (the page's CSP allows them)."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from tests.browser.test_review_pages import _click, _log_in
from tests.factories import build_world

pytestmark = pytest.mark.slow


def test_device_setup_page__supervisor__sees_own_commune_codes_drawn(app, browser, live_server, screenshot):
    world = build_world(app)
    _log_in(browser, live_server, world.users["supervisor_a"])
    browser.get(live_server + "/devices")
    Select(browser.find_element(By.NAME, "commune")).select_by_value("07210")
    _click(browser, browser.find_element(By.CSS_SELECTOR, "#commune-filter button"))
    cards = browser.find_elements(By.CSS_SELECTOR, "section.device h2")
    assert [card.text for card in cards] == ["device_07210_01"]
    codes = browser.find_elements(By.CSS_SELECTOR, "img.qr")
    assert len(codes) == 2
    assert all(browser.execute_script("return arguments[0].complete && arguments[0].naturalWidth > 0", img)
               for img in codes)
    screenshot("device_setup_commune")
