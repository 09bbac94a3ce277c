"""The document's jobs, workers and the generator's job endpoints (``POST /restore`` ...)."""

from __future__ import annotations

from typing import Any

from daguerre.platform.constants import JOB_STATUSES
from daguerre.platform.web.api.generate import OPERATIONS, SUMMARIES
from daguerre.platform.web.openapi.common import (
    IMAGE_TYPES,
    JOB_ID,
    NULL_INT,
    NULL_STR,
    PAGE,
    errors,
    json_body,
    json_response,
    operation,
    query_param,
    ref,
    text,
)
from daguerre.platform.web.openapi.params import new_job_schema, request_schema

SCHEMAS: dict[str, Any] = {
    "Progress": {
        "type": "object", "required": ["done", "total"],
        "properties": {"done": {"type": "integer"}, "total": NULL_INT,
                       "message": NULL_STR},
    },
    "Job": {
        "type": "object", "required": ["id", "kind", "status", "progress"],
        "properties": {
            "id": {"type": "integer"}, "kind": {"type": "string"},
            "status": {"type": "string", "enum": JOB_STATUSES},
            "progress": ref("Progress"), "params": {"type": "object"},
            "error": NULL_STR, "result": {"type": ["object", "null"]},
            "retried_from": NULL_INT,
        },
    },
    "JobPage": {
        "type": "object", "required": ["items", "limit", "offset"],
        "properties": {"items": {"type": "array", "items": ref("Job")},
                       "limit": {"type": "integer"}, "offset": {"type": "integer"}},
    },
    "ClearedJobs": {
        "type": "object", "required": ["deleted", "kept"],
        "properties": {
            "deleted": {"type": "integer", "minimum": 0,
                        "description": "finished jobs deleted (their outputs and lineage stay)"},
            "kept": {"type": "integer", "minimum": 0,
                     "description": "finished jobs kept: a queued or running retry needs them"},
        },
    },
    "Worker": {
        "type": "object",
        "required": ["name", "host", "pid", "queues", "device", "alive", "current_job_id",
                     "started_at", "last_seen_at", "stopped_at"],
        "properties": {
            "name": {"type": "string", "description": "the worker's identity, `<node>:<pid>`"},
            "host": {"type": "string"}, "pid": {"type": "integer"},
            "queues": {"type": "array", "items": {"type": "string"}},
            "device": NULL_STR,
            "alive": {"type": "boolean",
                      "description": "its heartbeat is recent and it did not stop"},
            "current_job_id": NULL_INT, "started_at": {"type": "string"},
            "last_seen_at": {"type": "string"}, "stopped_at": NULL_STR,
        },
    },
    "WorkerList": {
        "type": "object", "required": ["items"],
        "properties": {"items": {"type": "array", "items": ref("Worker")}},
    },
}


def paths() -> dict[str, Any]:
    return {
        "/jobs": {
            "get": operation("List jobs, newest first", {
                "200": json_response(ref("JobPage"), "A page of jobs"), **errors(400, 401, 503)},
                params=[*PAGE, query_param("status", {"type": "string", "enum": JOB_STATUSES},
                                           "only jobs in this state"),
                        query_param("kind", text(64), "only this kind")],
                tag="jobs"),
            "post": operation("Create a job", {
                "202": json_response(ref("Job"), "The queued job"),
                **errors(400, 401, 404, 415, 503)},
                body=json_body("NewJob"), tag="jobs"),
        },
        "/jobs/clear": {
            "post": operation("Delete every finished job; their images and lineage stay", {
                "200": json_response(ref("ClearedJobs"), "How many were deleted and kept"),
                **errors(400, 401, 503)}, tag="jobs"),
        },
        "/jobs/{job_id}": {
            "get": operation("Show a job and its progress", {
                "200": json_response(ref("Job"), "The job"), **errors(401, 404, 503)},
                params=[JOB_ID], tag="jobs"),
        },
        "/jobs/{job_id}/cancel": {
            "post": operation("Cancel a job (a running one stops within one batch)", {
                "200": json_response(ref("Job"), "The job, with its cancel flag set"),
                **errors(400, 401, 404, 409, 503)},
                params=[JOB_ID], tag="jobs"),
        },
        "/jobs/{job_id}/retry": {
            "post": operation("Retry a finished job as a new job linked to it", {
                "202": json_response(ref("Job"), "The new job"),
                **errors(400, 401, 404, 409, 503)},
                params=[JOB_ID], tag="jobs"),
        },
        "/workers": {
            "get": operation("List job workers, live ones first", {
                "200": json_response(ref("WorkerList"), "Workers that recorded themselves"),
                **errors(401)}, tag="jobs"),
        },
    }


def new_job() -> dict[str, Any]:
    """``POST /jobs``: one alternative per job kind, with that kind's parameters."""
    return {**new_job_schema(), "description": "a job kind and its parameters"}


def generation_paths() -> dict[str, Any]:
    """``POST /generate``, ``/translate`` ... ``/restore``: one generator job each; and
    ``POST /masks``, where a painted mask is stored for them."""
    paths: dict[str, Any] = {}
    for kind in OPERATIONS:
        paths[f"/{kind}"] = {"post": operation(SUMMARIES[kind], {
            "202": json_response(ref("Job"), "The queued job; its result lists the outputs"),
            **errors(400, 401, 404, 413, 415, 503)},
            body={"required": True, "content": {"application/json": {
                "schema": request_schema(kind)}}}, tag="generation")}
    paths["/masks"] = {"post": operation(
        "Store a mask (white = repaint) for an inpaint or restore job", {
            "201": json_response({"type": "object", "required": ["mask"], "properties": {
                "mask": {"type": "string", "pattern": "^[0-9a-f]{64}$"}}},
                "The stored mask's SHA-256, to pass as a job's `mask`"),
            **errors(400, 401, 413, 415)},
        body={"required": True, "content": {"multipart/form-data": {
            "schema": {"type": "object", "required": ["mask"], "properties": {
                "mask": {"type": "string", "format": "binary",
                         "description": "an image of the input's size (PNG, JPEG ...); "
                                        "white = repaint, black = keep"}}},
            "encoding": {"mask": {"contentType": IMAGE_TYPES}}}}},
        tag="generation")}
    return paths
