from __future__ import annotations


def test_openapi__served__lists_review_central_and_device_routes(client):
    response = client.get("/v1/openapi.json")
    assert response.status_code == 200
    document = response.get_json()
    assert document["openapi"].startswith("3.")
    paths = document["paths"]
    assert "post" in paths["/v1/reviews/{review_id}/actions"]
    assert paths["/v1/reviews/{review_id}/actions"]["post"]["parameters"][0]["schema"] == {"type": "integer"}
    assert "patch" in paths["/v1/projects/{project_id}/forms/{xml_form_id}/submissions/{instance_id}"]
    assert {"head", "post"} <= set(paths["/v1/key/{token}/projects/{project_id}/submission"])
    assert "get" in paths["/v1/duplicates"]


def test_openapi__every_operation_id_unique(client):
    operations = [op["operationId"] for item in client.get("/v1/openapi.json").get_json()["paths"].values()
                  for op in item.values()]
    assert len(operations) == len(set(operations))
