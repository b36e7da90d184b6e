"""pyodk 1.3's entity calls (`client.entity_lists.*`, `client.entities.*`) against the server over HTTP."""

from __future__ import annotations

import pytest
from pyodk.errors import PyODKError

from server.entities import services
from server.entities.queries import ListScope
from server.extensions import db
from server.households.models import Household
from tests.e2e.test_pyodk import Central, central  # noqa: F401  (the fixture)

pytestmark = pytest.mark.slow


def test_pyodk_entity_lists__create_list_get_add_property(central: Central):  # noqa: F811  (the imported fixture)
    with central.client() as client:
        created = client.entity_lists.create(entity_list_name="trees")
        assert (created.name, created.approvalRequired) == ("trees", False)
        assert client.entity_lists.add_property("species", entity_list_name="trees") is True
        assert [d.name for d in client.entity_lists.list()] == ["trees"]
        got = client.entity_lists.get(entity_list_name="trees")
        assert [p.name for p in got.properties] == ["species"]


def test_pyodk_entities__create_update_versions_delete(central: Central):  # noqa: F811  (the imported fixture)
    with central.client() as client:
        client.entity_lists.create(entity_list_name="trees")
        client.entity_lists.add_property("species", entity_list_name="trees")
        client.entity_lists.add_property("circumference_cm", entity_list_name="trees")
        made = client.entities.create(label="Cây đa", data={"species": "đa", "circumference_cm": 300},
                                      entity_list_name="trees")
        assert made.currentVersion.version == 1 and made.currentVersion.data == {"species": "đa",
                                                                                 "circumference_cm": "300"}
        updated = client.entities.update(made.uuid, entity_list_name="trees", data={"circumference_cm": "310"},
                                         base_version=1)
        assert updated.currentVersion.version == 2 and updated.currentVersion.data["species"] == "đa"
        with pytest.raises(PyODKError, match="409"):
            client.entities.update(made.uuid, entity_list_name="trees", label="Cây đa cũ", base_version=1)
        forced = client.entities.update(made.uuid, entity_list_name="trees", label="Cây đa cũ", force=True)
        assert forced.currentVersion.label == "Cây đa cũ" and forced.currentVersion.version == 3
        assert [e.uuid for e in client.entities.list(entity_list_name="trees")] == [made.uuid]
        table = client.entities.get_table(entity_list_name="trees", count=True, filter="species eq 'đa'")
        assert table["@odata.count"] == 1
        assert table["value"][0]["__system"]["version"] == 3 and table["value"][0]["circumference_cm"] == "310"
        assert client.entities.delete(made.uuid, entity_list_name="trees") is True
        assert client.entities.list(entity_list_name="trees") == []


def test_pyodk_entities__create_many_and_merge(central: Central):  # noqa: F811  (the imported fixture)
    with central.client() as client:
        client.entity_lists.create(entity_list_name="trees")
        client.entity_lists.add_property("species", entity_list_name="trees")
        assert client.entities.create_many([{"label": "A", "species": "đa"}, {"label": "B", "species": "si"}],
                                           entity_list_name="trees") is True
        actions = client.entities.merge([{"label": "A", "species": "đa", "height": "12"},
                                         {"label": "C", "species": "gạo"}], entity_list_name="trees",
                                        delete_not_matched=True)
        assert set(actions.to_insert) == {("C",)} and set(actions.to_delete) == {("B",)}
        rows = client.entities.get_table(entity_list_name="trees", select="label,species,height")["value"]
        assert sorted((r["label"], r["species"], r["height"]) for r in rows) == [("A", "đa", "12"),
                                                                                ("C", "gạo", None)]


def test_pyodk_entities__households_outside_scope__never_listed(central: Central):  # noqa: F811  (the imported fixture)
    app = central.world.app
    with app.app_context():
        db.session.add(Household(code="HH-1", village_code="07210-01", head_name="Nguyễn Văn An"))
        db.session.add(Household(code="HH-9", village_code="07228-01", head_name="Đỗ Văn Hải"))
        db.session.commit()
    with app.app_context():  # what the phones' first sync does: registry households become entities
        dataset = services.ensure_dataset(central.world.project_id, services.HOUSEHOLDS)
        services.sync_registry(dataset, ListScope(None))
        db.session.commit()
    with central.client("verifier_07228_01") as client:
        assert [e.uuid for e in client.entities.list(entity_list_name="households")] == ["HH-9"]
        table = client.entities.get_table(entity_list_name="households", count=True)
        assert table["@odata.count"] == 1 and table["value"][0]["head_name"] == "Đỗ Văn Hải"
        with pytest.raises(PyODKError, match="404"):
            client.entities.update("HH-1", entity_list_name="households", data={"phone": "0912345678"},
                                   force=True)
    with central.client("admin") as client:
        assert sorted(e.uuid for e in client.entities.list(entity_list_name="households")) == ["HH-1", "HH-9"]
