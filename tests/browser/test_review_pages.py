"""Issue 5, the pages in a real browser: a village verifier and a commune officer work the procedure in
headless Chromium (log in, open the queue, approve one household, return one, record a meeting)."""

from __future__ import annotations

import pytest
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.wait import WebDriverWait
from sqlalchemy import select

from server.collect.models import Submission
from server.extensions import db
from server.review.models import Review
from tests.factories import PASSWORD
from tests.web.world import HEADS, YESTERDAY, build_review_world, submit

pytestmark = pytest.mark.slow

MEETING = {"held_on": YESTERDAY, "chair": "Nguyễn Văn Ba", "attendees": 40, "minutes_ref": "BB-01.jpg"}


def _states(app) -> dict[str, str]:
    with app.app_context():
        rows = db.session.execute(select(Submission.instance_id, Review.state)
                                  .join(Review, Review.submission_id == Submission.id))
        return dict(rows.all())


def _review_ids(app) -> dict[str, int]:
    with app.app_context():
        rows = db.session.execute(select(Submission.instance_id, Review.id)
                                  .join(Review, Review.submission_id == Submission.id))
        return dict(rows.all())


def _click(browser: WebDriver, element: WebElement) -> None:
    """Click a submit button or link and wait until the next page has loaded, so no look-up hits the old one.

    The old page is marked and the new one recognised by the mark's absence: waiting for an element to go
    stale races with Chromium's navigation, which reports a detached node as another error.
    """
    browser.execute_script("window.beforeClick = true")
    element.click()
    WebDriverWait(browser, 15, ignored_exceptions=(WebDriverException,)).until(
        lambda driver: driver.execute_script("return !window.beforeClick && document.readyState === 'complete'"))


def _log_in(browser: WebDriver, base: str, email: str) -> None:
    browser.get(base + "/login")
    browser.find_element(By.ID, "email").send_keys(email)
    browser.find_element(By.ID, "password").send_keys(PASSWORD)
    _click(browser, browser.find_element(By.ID, "login"))


def _set(browser: WebDriver, element, value: str) -> None:
    # Date inputs take typed text in the browser's locale; setting the value is locale-proof.
    browser.execute_script("arguments[0].value = arguments[1]", element, value)


def _notice(browser: WebDriver) -> str:
    return browser.find_element(By.CSS_SELECTOR, ".notice").text


def test_browser__verifier__returns_one_and_records_meeting(app, client, browser, live_server, screenshot):
    world = build_review_world(app)
    for number, head in enumerate(HEADS[:4]):
        submit(client, world, f"uuid:v{number}", head=head)
    submit(client, world, "uuid:other", head=HEADS[5], village="07228-01", commune="07228",
           gps="21.305 106.125 10 5", device="device_07228_01")
    ids = _review_ids(app)

    browser.get(live_server + "/queue")
    assert "/login" in browser.current_url  # pages need a session
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "vi"  # despite an English browser
    screenshot("login")
    _log_in(browser, live_server, world.users["verifier_07210_01"])
    assert browser.current_url.endswith("/queue")
    rows = browser.find_elements(By.CSS_SELECTOR, "#queue tbody tr")
    assert sorted(int(r.get_attribute("data-review")) for r in rows) == sorted(ids[f"uuid:v{n}"] for n in range(4))
    screenshot("queue")
    screenshot("queue-phone", width=390)

    _click(browser, browser.find_element(By.LINK_TEXT, HEADS[0]))
    assert browser.find_element(By.ID, "household-name").text == HEADS[0]
    assert browser.find_elements(By.CSS_SELECTOR, "svg.map path")  # the village boundary is drawn
    assert browser.find_elements(By.CSS_SELECTOR, "svg.map circle")  # and the GPS point
    assert browser.find_element(By.CSS_SELECTOR, "#photo img").get_property("naturalWidth") == 64  # the photo loads
    screenshot("review")
    form = browser.find_element(By.ID, "action-return_to_enumerator")
    form.find_element(By.NAME, "reason").send_keys("Thiếu ảnh nhà rõ nét")
    _click(browser, form.find_element(By.TAG_NAME, "button"))
    assert browser.find_element(By.ID, "review-state").text == "Đã trả lại rà soát viên"

    _click(browser, browser.find_element(By.LINK_TEXT, "Họp dân"))
    meeting = browser.find_element(By.ID, "meeting")
    _set(browser, meeting.find_element(By.NAME, "held_on"), MEETING["held_on"])
    meeting.find_element(By.NAME, "chair").send_keys(MEETING["chair"])
    meeting.find_element(By.NAME, "attendees").send_keys("40")
    meeting.find_element(By.NAME, "minutes_ref").send_keys(MEETING["minutes_ref"])
    meeting.find_element(By.NAME, f"votes-{ids['uuid:v1']}").send_keys("30")  # approved: 75 %
    meeting.find_element(By.NAME, f"votes-{ids['uuid:v2']}").send_keys("19")  # under half: re-survey
    screenshot("meeting")
    _click(browser, browser.find_element(By.ID, "record-meeting"))
    assert "1 hộ thống nhất, 1 hộ phải rà soát lại" in _notice(browser)
    screenshot("meeting-recorded")
    assert _states(app) == {"uuid:v0": "returned", "uuid:v1": "village_agreed", "uuid:v2": "resurvey",
                            "uuid:v3": "village_review", "uuid:other": "village_review"}


def test_browser__verifier__concurrent_decision__conflict_message(app, client, browser, live_server, screenshot):
    world = build_review_world(app)
    submit(client, world, "uuid:c1")
    review_id = _review_ids(app)["uuid:c1"]
    _log_in(browser, live_server, world.users["verifier_07210_01"])
    browser.get(f"{live_server}/reviews/{review_id}")
    # Someone else decides while the page is open.
    response = client.post(f"/v1/reviews/{review_id}/actions", headers=world.basic("verifier_07210_01"),
                           json={"action": "request_resurvey", "reason": "Sai diện tích"})
    assert response.status_code == 200
    form = browser.find_element(By.ID, "action-return_to_enumerator")
    form.find_element(By.NAME, "reason").send_keys("Thiếu ảnh")
    _click(browser, form.find_element(By.TAG_NAME, "button"))
    assert "vừa được người khác xử lý" in browser.find_element(By.ID, "action-error").text
    screenshot("review-conflict")
    assert _states(app)["uuid:c1"] == "resurvey"


def test_browser__commune_officer__confirms_returns_decides(app, client, browser, live_server, screenshot):
    world = build_review_world(app)
    for number, head in enumerate(HEADS[:3]):
        submit(client, world, f"uuid:k{number}", head=head)
    submit(client, world, "uuid:k3", head=HEADS[3], village="07210-02", gps="21.28 106.215 10 5")
    ids = _review_ids(app)
    for number in range(3):
        response = client.post(f"/v1/reviews/{ids[f'uuid:k{number}']}/actions", headers=world.basic("admin"),
                               json={"action": "record_meeting_vote", "meeting": MEETING, "votes_in_favour": 30})
        assert response.status_code == 200

    _log_in(browser, live_server, world.users["commune_07210"])
    assert browser.current_url.endswith("/commune")
    screenshot("commune")
    browser.find_element(By.ID, f"pick-{ids['uuid:k0']}").click()
    _click(browser, browser.find_element(By.ID, "bulk-village_agreed-commune_confirm"))
    assert "1 hộ" in _notice(browser)

    _click(browser, browser.find_element(By.LINK_TEXT, HEADS[1]))
    form = browser.find_element(By.ID, "action-commune_return")
    form.find_element(By.NAME, "reason").send_keys("Biên bản họp thiếu chữ ký")
    _click(browser, form.find_element(By.TAG_NAME, "button"))
    assert browser.find_element(By.ID, "review-state").text == "Chờ thôn rà soát"

    browser.get(live_server + "/commune")
    browser.find_element(By.ID, f"pick-{ids['uuid:k0']}").click()
    _click(browser, browser.find_element(By.ID, "bulk-commune_confirmed-open_posting"))
    browser.find_element(By.ID, f"pick-{ids['uuid:k0']}").click()
    _click(browser, browser.find_element(By.ID, "bulk-posted-close_posting"))
    section = browser.find_element(By.ID, "section-awaiting_decision")
    section.find_element(By.ID, f"pick-{ids['uuid:k0']}").click()
    section.find_element(By.NAME, "decision_number").send_keys("125/QĐ-UBND")
    _set(browser, section.find_element(By.NAME, "decision_date"), YESTERDAY)
    screenshot("commune-decision")
    _click(browser, section.find_element(By.ID, "bulk-awaiting_decision-decide"))
    assert "Ra quyết định công nhận" in _notice(browser)

    browser.get(f"{live_server}/meetings/new?village=07210-02")
    meeting = browser.find_element(By.ID, "meeting")
    _set(browser, meeting.find_element(By.NAME, "held_on"), YESTERDAY)
    meeting.find_element(By.NAME, "chair").send_keys("Trần Văn Tổ")
    meeting.find_element(By.NAME, "attendees").send_keys("20")
    meeting.find_element(By.NAME, "minutes_ref").send_keys("BB-02")
    meeting.find_element(By.NAME, f"votes-{ids['uuid:k3']}").send_keys("10")  # exactly half: agreed
    _click(browser, browser.find_element(By.ID, "record-meeting"))
    assert "1 hộ thống nhất, 0 hộ phải rà soát lại" in _notice(browser)

    _click(browser, browser.find_element(By.ID, "lang-en"))
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en"
    assert "Households to review" in browser.find_element(By.TAG_NAME, "h1").text
    screenshot("queue-en")
    assert _states(app) == {"uuid:k0": "decided", "uuid:k1": "village_review", "uuid:k2": "village_agreed",
                            "uuid:k3": "village_agreed"}


def test_browser__enumerator__sees_returned_with_reason(app, client, browser, live_server, screenshot):
    world = build_review_world(app)
    submit(client, world, "uuid:e1")
    review_id = _review_ids(app)["uuid:e1"]
    client.post(f"/v1/reviews/{review_id}/actions", headers=world.basic("verifier_07210_01"),
                json={"action": "return_to_enumerator", "reason": "Chụp lại ảnh nhà"})
    _log_in(browser, live_server, world.users["enumerator_07210_01"])
    assert browser.current_url.endswith("/returned")
    assert browser.find_element(By.CSS_SELECTOR, "#returned td.reason").text == "Chụp lại ảnh nhà"
    screenshot("returned")
