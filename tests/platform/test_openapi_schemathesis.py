"""Property-based run of the OpenAPI document against a live server (schemathesis + Hypothesis).

The app runs under waitress on 127.0.0.1 and a random free port, over a copy of the small indexed
library; schemathesis reads ``/api/v1/openapi.json`` from it, generates valid and invalid requests
for every operation, sends them with a token, and checks each answer: never a 5xx, a status code
the document lists, a content type it lists, and a body that matches the documented schema.
"""

from __future__ import annotations

import os
import time

import pytest
from hypothesis import HealthCheck, Phase, given, settings

from tests.platform.api_fixtures import *  # noqa: F403 - fixtures

schemathesis = pytest.importorskip("schemathesis")

# DAGUERRE_SCHEMATHESIS_EXAMPLES raises it for a deeper run (it must stay under a minute in CI).
EXAMPLES_PER_OPERATION = int(os.environ.get("DAGUERRE_SCHEMATHESIS_EXAMPLES", "60"))
BUDGET_SECONDS = float(os.environ.get("DAGUERRE_SCHEMATHESIS_SECONDS", "50"))  # stop adding operations past this
# Where a schema-valid request can still be refused on meaning, not shape (a folder that does not
# exist on the server, a job parameter another kind needs, bytes that are not an image, a
# malformed query term), "valid data is accepted" does not hold; every other check still runs.
SEMANTIC_400 = {"POST /libraries", "POST /jobs", "POST /search/image", "GET /search",
                "POST /search", "POST /images/{image_id}/tags", "POST /jobs/{job_id}/retry",
                "DELETE /images/{image_id}/tags/{name}"}


def _property(operation, base_url: str, headers: dict, excluded: list):  # noqa: ANN001, ANN202
    """A Hypothesis test calling one operation with generated requests."""

    @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None,
              derandomize=True, phases=[Phase.explicit, Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy())
    def check(case) -> None:  # noqa: ANN001
        case.call_and_validate(base_url=base_url, headers=headers, timeout=30,
                               excluded_checks=excluded)

    return check


@pytest.mark.slow
def test_api_conforms_to_its_openapi_document(app, live_server, token) -> None:  # noqa: ANN001
    pytest.importorskip("daguerre.platform.services.jobs")
    # Jobs are recorded, not sent: no worker runs here, and a broker is not what this tests.
    app.config["JOB_SENDER"] = lambda job_id, queue: None
    import schemathesis.openapi
    from schemathesis.checks import positive_data_acceptance

    schema = schemathesis.openapi.from_url(f"{live_server.url}/api/v1/openapi.json")
    base_url = f"{live_server.url}/api/v1"
    headers = {"Authorization": f"Bearer {token}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20, "the document lost operations"

    started = time.monotonic()
    tested: list[str] = []
    failures: list[str] = []
    for operation in operations:
        if time.monotonic() - started > BUDGET_SECONDS:
            break
        excluded = [positive_data_acceptance] if operation.label in SEMANTIC_400 else []
        check = _property(operation, base_url, headers, excluded)
        try:
            check()
        except Exception as exc:  # noqa: BLE001 - collect every operation's failure
            failures.append(f"{operation.label}: {str(exc)[:1500]}")
        tested.append(operation.label)

    assert not failures, "\n\n".join(failures)
    assert len(tested) == len(operations), f"time budget ran out after {tested}"


@pytest.mark.slow
def test_document_is_valid_openapi(client) -> None:  # noqa: ANN001
    """Every operation of the served document parses (schemathesis refuses broken schemas)."""
    import schemathesis.openapi

    schema = schemathesis.openapi.from_dict(client.get("/api/v1/openapi.json").get_json())
    labels = {result.ok().label for result in schema.get_all_operations()}
    assert "GET /images/{image_id}/thumbnail" in labels and "POST /search/image" in labels


def test_every_route_is_documented(app) -> None:  # noqa: ANN001
    """The document lists exactly the routes the server has under /api/v1 (and their methods)."""
    from daguerre.platform.web.openapi import document

    doc = document()
    documented = {(path, method.upper()) for path, ops in doc["paths"].items() for method in ops}
    served = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        path = rule.rule.removeprefix("/api/v1")
        for conv in ("int:", "path:"):
            path = path.replace("<" + conv, "{")
        path = path.replace(">", "}")
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            served.add((path, method))
    assert documented == served


