"""Property-based run of the OpenAPI document against a live server (schemathesis + Hypothesis).

The app runs under waitress on 127.0.0.1 and a random free port, over a copy of the small indexed
library; schemathesis reads ``/api/v1/openapi.json`` from it, generates valid and invalid requests
for every operation, sends them with a token, and runs every check it has on each answer: never a
5xx, a status code and content type the document lists, a body and headers that match it, data
the schema allows accepted, data it refuses rejected, a missing token refused, methods answered
as documented. No operation is exempt from any check.

Two inputs have a language JSON Schema cannot spell, so the document names them and this test
says how to write valid ones, as schemathesis provides for: the search query (format
``daguerre-query``, drawn here from the grammar of ``indexer/query.py``) and an uploaded image
(the multipart part's content types, drawn here as real PNG and JPEG files).
"""

from __future__ import annotations

import io
import os
import time

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.platform.api_fixtures import *  # noqa: F403 - fixtures

schemathesis = pytest.importorskip("schemathesis")

# DAGUERRE_SCHEMATHESIS_EXAMPLES raises it for a deeper run (it must stay near a minute in CI).
EXAMPLES_PER_OPERATION = int(os.environ.get("DAGUERRE_SCHEMATHESIS_EXAMPLES", "50"))
BUDGET_SECONDS = float(os.environ.get("DAGUERRE_SCHEMATHESIS_SECONDS", "240"))


# -- the query language, from its grammar (not from the parser under test) -------------------
_WORD = st.text(alphabet="abcdefghijklmnopqrstuvwxyzéø0123456789", min_size=1, max_size=8)
_BARE = st.lists(_WORD, min_size=1, max_size=4).map(" ".join).filter(
    lambda s: not s.isdigit() and not s.endswith((".jpg", ".png")))
_QUOTED = st.text(alphabet=st.characters(blacklist_characters='"\x00',
                                         blacklist_categories=("Cs",)),
                  min_size=1, max_size=30).filter(lambda s: s.strip()).map(lambda s: f'"{s}"')
_IMAGE_ID = st.integers(min_value=0, max_value=10**6).map(lambda i: f"#{i}")
_WEIGHT = st.sampled_from(["", ":0.5", ":2", ":-1", ": 1.5", ":1e-1", ":3"])


@st.composite
def queries(draw: st.DrawFn) -> str:
    """A well-formed query: distinct terms (so none cancels another) joined by ` + `/` - `."""
    atoms = draw(st.lists(st.one_of(_BARE, _QUOTED, _IMAGE_ID), min_size=1, max_size=4,
                          unique_by=lambda a: a.strip('"').strip().lower()))
    out = draw(st.sampled_from(["", "- ", "+ "]))
    for i, atom in enumerate(atoms):
        out += (draw(st.sampled_from([" + ", " - "])) if i else "") + atom + draw(_WEIGHT)
    return out


@st.composite
def image_files(draw: st.DrawFn, fmt: str) -> bytes:
    from PIL import Image

    size = (draw(st.integers(8, 96)), draw(st.integers(8, 96)))
    colour = tuple(draw(st.integers(0, 255)) for _ in range(3))
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, fmt)
    return buf.getvalue()


schemathesis.openapi.format("daguerre-query", queries())
schemathesis.openapi.media_type("image/png", image_files("PNG"))
schemathesis.openapi.media_type("image/jpeg", image_files("JPEG"))


def _property(operation, base_url: str, headers: dict):  # noqa: ANN001, ANN202
    """A Hypothesis test calling one operation with generated requests, every check on."""
    from schemathesis.checks import CHECKS, load_all_checks

    load_all_checks()
    every_check = list(CHECKS.get_all())

    @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None,
              derandomize=True, phases=[Phase.explicit, Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy())
    def check(case) -> None:  # noqa: ANN001
        case.call_and_validate(base_url=base_url, headers=headers, timeout=30,
                               checks=every_check)

    return check


@pytest.mark.slow
def test_api_conforms_to_its_openapi_document(app, live_server, token) -> None:  # noqa: ANN001
    pytest.importorskip("daguerre.platform.services.jobs")
    # Jobs are recorded, not sent: no worker runs here, and a broker is not what this tests.
    app.config["JOB_SENDER"] = lambda job_id, queue: None
    import schemathesis.openapi

    schema = schemathesis.openapi.from_url(f"{live_server.url}/api/v1/openapi.json")
    base_url = f"{live_server.url}/api/v1"
    headers = {"Authorization": f"Bearer {token}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20, "the document lost operations"
    # What removes or moves the shared library runs last, so every other operation still finds
    # images to work on.
    destructive = {"DELETE /libraries/{library_id}", "POST /libraries/{library_id}/move",
                   # revoking tokens may revoke the very token the run calls with
                   "DELETE /tokens/{token_id}", "DELETE /me/tokens/{token_id}"}
    operations.sort(key=lambda op: op.label in destructive)

    started = time.monotonic()
    tested: list[str] = []
    failures: list[str] = []
    for operation in operations:
        if time.monotonic() - started > BUDGET_SECONDS:
            break
        check = _property(operation, base_url, headers)
        try:
            check()
        except Exception as exc:  # noqa: BLE001 - collect every operation's failure
            failures.append(f"{operation.label}: {str(exc)[:1500]}")
        tested.append(operation.label)

    assert not failures, "\n\n".join(failures)
    assert len(tested) == len(operations), f"time budget ran out after {tested}"
    assert "POST /restore" in tested and "POST /search/image" in tested


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


