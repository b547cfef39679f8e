"""A loopback fake of the two job-status routes the benchmarked triggers poll, over TLS.

- ``GET /api/v1/jobs/{job_id}`` (Planasonix): ``bench-job-<i>`` -> a job answer shaped as the
  sandbox gives it, ``running`` until ``done_at[i]``, ``succeeded`` from then on.
- ``GET /api/v2/accounts/{account_id}/runs/{run_id}/`` (dbt Cloud): run ``i + 1`` -> status 3
  (running) until ``done_at[i]``, 10 (success) from then on.

Job state comes from the shared-memory file (``_airflow_shared``); every request marks its job's
first poll and counts it there. TLS because both real APIs are https and dbt Cloud's hook builds
``https://`` URLs: the benchmark makes a self-signed certificate and points ``SSL_CERT_FILE`` of
the triggerer at it.

Usage: _airflow_fake_api.py --shm PATH --n N --cert CERT --key KEY  (prints "port <p>")
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import ssl
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _airflow_shared import Shared

STARTED = "2026-01-01T00:00:00Z"


def make_certificate(cert: Path, key: Path) -> None:
    """A self-signed certificate for 127.0.0.1 and localhost (no network, no openssl CLI)."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    private = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(private, hashes.SHA256())
    )
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def job_body(job_id: str, done: bool) -> bytes:
    data = {
        "id": job_id,
        "status": "succeeded" if done else "running",
        "type": "sync",
        "connection_id": "conn_bench",
        "pipeline_id": "pipe_bench",
        "created_at": STARTED,
        "queued_at": STARTED,
        "started_at": STARTED,
        "finished_at": "2026-01-01T00:05:00Z" if done else None,
        "duration_seconds": 300.0 if done else None,
        "metrics": {"rows_processed": 1000, "bytes_processed": 64000} if done else None,
        "error": None,
    }
    return json.dumps({"data": data}).encode()


def dbt_body(run_id: int, done: bool) -> bytes:
    data = {
        "id": run_id,
        "account_id": 1,
        "job_definition_id": 1,
        "status": 10 if done else 3,
        "status_humanized": "Success" if done else "Running",
        "in_progress": not done,
        "is_complete": done,
        "created_at": STARTED,
        "finished_at": "2026-01-01 00:05:00" if done else None,
    }
    return json.dumps({"data": data, "status": {"code": 200, "is_success": True}}).encode()


async def serve(args: argparse.Namespace) -> None:
    from aiohttp import web

    mem = Shared(args.shm, args.n)

    def seen(i: int) -> bool:
        now = time.time()
        if not mem.first_poll[i]:
            mem.first_poll[i] = now
        mem.polls[i] += 1
        done_at = mem.done_at[i]
        done = bool(done_at) and now >= done_at
        if done and not mem.seen_done[i]:
            mem.seen_done[i] = now
        return done

    async def planasonix(request: web.Request) -> web.Response:
        job_id = request.match_info["job_id"]
        try:
            i = int(job_id.rsplit("-", 1)[1])
        except (IndexError, ValueError):
            return web.json_response(
                {"error": {"code": "not_found", "message": job_id}}, status=404
            )
        if not 0 <= i < args.n:
            return web.json_response(
                {"error": {"code": "not_found", "message": job_id}}, status=404
            )
        return web.Response(body=job_body(job_id, seen(i)), content_type="application/json")

    async def dbt(request: web.Request) -> web.Response:
        run_id = int(request.match_info["run_id"])
        i = run_id - 1
        if not 0 <= i < args.n:
            return web.json_response({"status": {"code": 404}}, status=404)
        return web.Response(body=dbt_body(run_id, seen(i)), content_type="application/json")

    app = web.Application()
    app.router.add_get("/api/v1/jobs/{job_id}", planasonix)
    app.router.add_get("/api/v2/accounts/{account_id}/runs/{run_id}/", dbt)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(args.cert, args.key)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context, backlog=4096)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    print(f"port {port}", flush=True)
    await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shm", required=True)
    parser.add_argument("--n", type=int, required=True)
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    args = parser.parse_args()
    asyncio.run(serve(args))


if __name__ == "__main__":
    main()
