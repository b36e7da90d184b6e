"""Issue 7 item 1 in a real browser: an area supervisor opens the monitoring dashboard in headless Chromium,
sees only their own area, drills down to a commune and a village, on a desktop and a phone-sized window."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By

from tests.browser.test_review_pages import _click, _log_in
from tests.web.test_dashboard import B_ONLY, build_dashboard_world

pytestmark = pytest.mark.slow
PHONE = 390


def test_browser__supervisor__dashboard_shows_own_area_only(app, client, browser, live_server, screenshot):
    world = build_dashboard_world(app, client)
    _log_in(browser, live_server, world.users["supervisor_a"])
    _click(browser, browser.find_element(By.LINK_TEXT, "Giám sát tiến độ"))
    assert browser.current_url.endswith("/dashboard")
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "vi"
    rows = browser.find_elements(By.CSS_SELECTOR, "#unit-table tbody tr")
    assert [row.get_attribute("data-unit") for row in rows] == ["AREA-A"]
    page = browser.find_element(By.TAG_NAME, "body").text
    assert "Khu vực A" in page
    assert not [secret for secret in B_ONLY if secret in browser.page_source]
    assert browser.find_element(By.CSS_SELECTOR, '#totals td[data-total="dash.col.expected"]').text == "6"
    screenshot("dashboard-supervisor")

    _click(browser, browser.find_element(By.LINK_TEXT, "Khu vực A"))
    _click(browser, browser.find_element(By.LINK_TEXT, "Phường Bắc Giang"))
    assert browser.current_url.endswith("/dashboard/commune/07210")
    shapes = browser.find_elements(By.CSS_SELECTOR, "#unit-map path[data-status]")
    assert {shape.get_attribute("data-code") for shape in shapes} == {"07210-01", "07210-02"}
    assert browser.find_elements(By.CSS_SELECTOR, "#day-chart rect")
    screenshot("dashboard-commune")
    screenshot("dashboard-commune-phone", width=PHONE)
    browser.set_window_size(PHONE, 800)
    # Usable on a phone: nothing wider than the screen (tables become cards, the SVGs scale down).
    assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth + 1")

    _click(browser, browser.find_element(By.LINK_TEXT, "Tổ dân phố 1"))
    assert "device_07210_01" in browser.find_element(By.ID, "enumerator-table").text
    _click(browser, browser.find_element(By.ID, "lang-en"))
    assert "Quality by enumerator" in browser.find_element(By.ID, "enumerators").text
    screenshot("dashboard-village-en")
