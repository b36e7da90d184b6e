"""Issue 6 item 5: device setup in the web interface — ODK Collect and KoboCollect QR codes per app user,
printable for a whole commune, tokens revocable, everything within the manager's own units."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest

from server.accounts.device_setup import collect_settings, kobo_settings, qr_payload, read_qr_payload
from tests.factories import OPENROSA, PASSWORD, build_world
from tests.web.world import csrf_in

URL = re.compile(r'<code class="server-url">([^<]+)</code>')
CARD = re.compile(r'<section class="card device" data-actor="(\d+)">\s*<h2>([^<]+)</h2>')


@pytest.fixture
def world(app):
    return build_world(app)


def _login(client, world, persona: str) -> str:
    page = client.get("/login")
    response = client.post("/login", data={"email": world.users[persona], "password": PASSWORD,
                                           "csrf_token": csrf_in(page.get_data(as_text=True))})
    assert response.status_code == 302
    return csrf_in(client.get("/returned").get_data(as_text=True))


def _cards(html: str) -> dict[str, int]:
    return {name: int(actor) for actor, name in CARD.findall(html)}


def _form_list(client, server_url: str):
    return client.get(urlsplit(server_url).path + "/formList", headers=OPENROSA)


def test_device_setup__kobo_code__same_server_and_account_as_collect_with_protocol():
    collect = collect_settings("https://x.vn/v1/key/abc/projects/1", "Rà soát", "Máy 1")
    kobo = read_qr_payload(qr_payload(kobo_settings("https://x.vn/v1/key/abc/projects/1", "Rà soát", "Máy 1")))
    assert kobo["general"] == {**collect["general"], "protocol": "odk_default"}
    assert kobo["admin"] == collect["admin"]
    assert kobo["project"]["name"] == "Rà soát" and kobo["project"]["color"] != collect["project"]["color"]


def test_devices__supervisor__sees_own_area_phones_with_both_codes_and_working_url(client, world):
    _login(client, world, "supervisor_a")
    html = client.get("/devices").get_data(as_text=True)
    assert set(_cards(html)) == {"device_07210_01"}
    assert 'class="qr collect" src="data:image/svg+xml' in html and 'class="qr kobo" src="data:image/svg+xml' in html
    assert world.tokens["device_07210_01"] in URL.search(html).group(1)
    assert _form_list(client, URL.search(html).group(1)).status_code == 200


def test_devices__print_for_one_commune__only_that_communes_phones(client, world):
    _login(client, world, "admin")
    assert set(_cards(client.get("/devices").get_data(as_text=True))) == {"device_07210_01", "device_07228_01"}
    assert set(_cards(client.get("/devices?commune=07228").get_data(as_text=True))) == {"device_07228_01"}


def test_devices__commune_outside_scope__404(client, world):
    _login(client, world, "supervisor_a")
    assert client.get("/devices?commune=07228").status_code == 404


@pytest.mark.parametrize("persona", ["verifier_07210_01", "enumerator_07210_01", "commune_07210"])
def test_devices__role_without_app_user_management__403_and_no_menu_link(client, world, persona):
    _login(client, world, persona)
    assert client.get("/devices").status_code == 403
    assert 'href="/devices"' not in client.get("/returned").get_data(as_text=True)


def test_devices__revoke__token_stops_working_and_card_says_revoked(client, world):
    csrf = _login(client, world, "admin")
    actor = _cards(client.get("/devices").get_data(as_text=True))["device_07210_01"]
    url = f"http://localhost/v1/key/{world.tokens['device_07210_01']}/projects/{world.project_id}"
    assert _form_list(client, url).status_code == 200
    response = client.post(f"/devices/{actor}/revoke", data={"csrf_token": csrf}, follow_redirects=True)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and 'class="notice warn revoked"' in html
    assert world.tokens["device_07210_01"] not in html
    assert _form_list(client, url).status_code == 403


def test_devices__revoke_outside_scope__404_and_token_still_works(client, world):
    admin = world.app.test_client()
    _login(admin, world, "admin")
    actor = _cards(admin.get("/devices").get_data(as_text=True))["device_07228_01"]
    csrf = _login(client, world, "supervisor_a")
    assert client.post(f"/devices/{actor}/revoke", data={"csrf_token": csrf}).status_code == 404
    url = f"http://localhost/v1/key/{world.tokens['device_07228_01']}/projects/{world.project_id}"
    assert _form_list(client, url).status_code == 200


def test_devices__revoke_without_csrf__403(client, world):
    _login(client, world, "admin")
    actor = _cards(client.get("/devices").get_data(as_text=True))["device_07210_01"]
    assert client.post(f"/devices/{actor}/revoke", data={}).status_code == 403


def test_devices__create__new_phone_gets_codes_and_can_fetch_every_form(client, world):
    csrf = _login(client, world, "supervisor_a")
    response = client.post("/devices", data={"csrf_token": csrf, "name": "Máy chị Hoa", "village": "07210-02",
                                             "project": str(world.project_id)}, follow_redirects=True)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "Máy chị Hoa" in _cards(html)
    new_url = [u for u in URL.findall(html) if world.tokens["device_07210_01"] not in u][0]
    listed = _form_list(client, new_url)
    assert listed.status_code == 200 and b"<formID>demo</formID>" in listed.data


def test_devices__create_for_village_outside_scope__403_nothing_created(client, world):
    csrf = _login(client, world, "supervisor_a")
    response = client.post("/devices", data={"csrf_token": csrf, "name": "Máy lạ", "village": "07228-01",
                                             "project": str(world.project_id)})
    assert response.status_code == 403
    assert "Máy lạ" not in _cards(client.get("/devices").get_data(as_text=True))


def test_devices__create_without_name__400_with_message(client, world):
    csrf = _login(client, world, "supervisor_a")
    response = client.post("/devices?lang=en", data={"csrf_token": csrf, "name": " ", "village": "07210-02",
                                                      "project": str(world.project_id)})
    assert response.status_code == 400 and "Enter a name." in response.get_data(as_text=True)
