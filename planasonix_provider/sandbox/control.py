"""The control plane under ``/_sandbox/``: reset, scenarios, faults, counters, internal views.

It is outside /api/v1 (and outside openapi.yaml) because no real Planasonix has it; tests use it
through :class:`planasonix_provider.sandbox.testing.SandboxControl`.
"""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from planasonix_provider.sandbox.config import FaultSpec, Scenario
from planasonix_provider.sandbox.errors import ApiError
from planasonix_provider.sandbox.http_utils import data, parse_body
from planasonix_provider.sandbox.state import Store

router = APIRouter(prefix="/_sandbox")


def _store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


@router.post("/reset")
async def reset(request: Request) -> JSONResponse:
    _store(request).reset()
    return data({"reset": True})


@router.get("/scenarios")
async def list_scenarios(request: Request) -> JSONResponse:
    scenarios = _store(request).scenarios
    return data({cid: s.model_dump() for cid, s in scenarios.items()})


@router.put("/scenarios/{connection_id}")
async def set_scenario(connection_id: str, request: Request) -> JSONResponse:
    scenario = await parse_body(request, Scenario, optional=True)
    store = _store(request)
    store.scenarios[connection_id] = scenario
    store.dirty = True
    return data({"connection_id": connection_id, **scenario.model_dump()})


@router.delete("/scenarios/{connection_id}", status_code=204)
async def clear_scenario(connection_id: str, request: Request) -> Response:
    store = _store(request)
    store.scenarios.pop(connection_id, None)
    store.dirty = True
    return Response(status_code=204)


@router.get("/faults")
async def list_faults(request: Request) -> JSONResponse:
    return data([fault.as_json() for fault in _store(request).faults])


@router.post("/faults")
async def add_fault(request: Request) -> JSONResponse:
    spec = await parse_body(request, FaultSpec)
    fault = _store(request).add_fault(spec)
    return data(fault.as_json(), 201)


@router.delete("/faults", status_code=204)
async def clear_faults(request: Request) -> Response:
    _store(request).faults.clear()
    return Response(status_code=204)


@router.get("/counters")
async def counters(request: Request) -> JSONResponse:
    return data(_store(request).counters())


@router.get("/jobs/{job_id}")
async def internal_job(job_id: str, request: Request) -> JSONResponse:
    store = _store(request)
    job = store.jobs.get(job_id)
    if job is None:
        raise ApiError(404, "job_not_found", f"job {job_id!r} not found")
    return data({**asdict(job), "status": job.status_at(store.now())})
