"""The compatibility routes in the OpenAPI schema: their own tags, OpenAI's error body on the
OpenAI routes only, HTTP Basic with a token on the A1111 routes."""

from __future__ import annotations

from drf_spectacular.generators import SchemaGenerator


def test_the_routes_are_documented_under_their_own_tags_with_their_error_bodies():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    paths = schema["paths"]
    openai = ["/v1/images/generations", "/v1/images/edits", "/v1/images/variations", "/v1/models"]
    a1111 = [path for path in paths if path.startswith("/sdapi/v1/")]
    assert len(a1111) == 18
    for path in openai:
        for operation in paths[path].values():
            assert operation["tags"] == ["OpenAI Images"]
            error = operation["responses"]["401"]["content"]["application/json"]["schema"]
            assert error["$ref"].endswith("/OpenAIError")
    generate = paths["/v1/images/generations"]["post"]["responses"]
    assert {"200", "400", "404", "429", "504"} <= set(generate)
    for path in a1111:
        for operation in paths[path].values():
            assert operation["tags"] == ["AUTOMATIC1111"]
            assert {"apiTokenBasicAuth": []} in operation["security"]
            error = operation["responses"]["401"]["content"]["application/json"]["schema"]
            assert error["$ref"].endswith("/Error")
    schemes = schema["components"]["securitySchemes"]
    assert schemes["apiTokenBasicAuth"]["scheme"] == "basic"
