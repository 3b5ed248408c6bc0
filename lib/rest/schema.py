"""drf-spectacular postprocessing hooks: what the OpenAPI schema says beyond the views."""

from __future__ import annotations

from typing import Any

ERROR_STATUSES = {
    "400": 'Invalid input: `{"detail": …}` or field errors `{"field": ["…"]}`.',
    "401": "No credentials, or an invalid or revoked token.",
    "403": "Signed in, but not permitted to do this.",
    "404": "Not found, or not visible to you.",
    "409": "Refused in the current state; `detail` says why in plain words.",
    "429": "Too many requests from this token; retry after `Retry-After` seconds.",
}
READ_ERRORS = ("401", "404", "429")

ERROR_SCHEMA = {
    "type": "object",
    "description": "`detail` with a sentence, or a list of messages per field.",
    # A request field named ``detail`` (a deploy report's) answers a list of its messages.
    "properties": {
        "detail": {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}
    },
    "additionalProperties": {},
}


def add_error_responses(
    result: dict[str, Any], generator: Any, request: Any, public: bool
) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: document the error answers of every operation.

    Reads can fail with 401/404/429 (and 400 for a bad filter or page), writes with every
    status in ``ERROR_STATUSES``, all with the same body.
    """
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    for path, operations in result.get("paths", {}).items():
        if not path.startswith("/api/") or path.startswith("/api/schema"):
            continue
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            codes = ERROR_STATUSES if method != "get" else (*READ_ERRORS, "400", "403")
            for code in codes:
                responses.setdefault(
                    code,
                    {
                        "description": ERROR_STATUSES[code],
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                        },
                    },
                )
    return result


def allow_blank_urls(
    result: dict[str, Any], generator: Any, request: Any, public: bool
) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: every URL field here may also be empty.

    Django's ``URLField(blank=True)`` holds "" for "no link", which is not a ``uri``; the schema
    says "a URI, or empty" so that clients and validators accept what the API really sends.
    """

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("format") == "uri" and node.get("type") == "string":
                del node["format"]
                node["anyOf"] = [{"format": "uri"}, {"maxLength": 0}]
            alternatives = node.get("oneOf", [])
            if any(alt.get("maxLength") == 0 for alt in alternatives):
                # drf-spectacular already offers "empty" beside this writable field.
                return
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    visit(result.get("components", {}))
    return result
