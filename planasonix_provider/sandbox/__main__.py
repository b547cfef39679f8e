"""``planasonix-sandbox``: run the sandbox from the command line and print how to reach it."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="planasonix-sandbox",
        description="A local Planasonix Orchestration API v1 server for testing DAGs.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port; 0 picks a free one (default)")
    parser.add_argument("--api-key", default=None, help="API key to accept (default: generated)")
    parser.add_argument("--seed", type=int, default=0, help="seed for ids, rows and faults")
    parser.add_argument(
        "--speed", type=float, default=1.0, help="clock speed; 2.0 runs jobs twice as fast"
    )
    parser.add_argument("--config", type=Path, default=None, help="YAML or JSON config file")
    parser.add_argument("--state-file", type=Path, default=None, help="JSON file to keep state")
    parser.add_argument(
        "--profile",
        default="reference",
        choices=["reference", "variant"],
        help="answer shapes: 'reference' (default) or 'variant', the other shapes the API "
        "reference allows (string errors, no metadata echo, results stubs, shards over time...)",
    )
    parser.add_argument(
        "--log-level",
        default="info",
        choices=["critical", "error", "warning", "info", "debug", "trace"],
    )
    args = parser.parse_args(argv)
    if args.speed <= 0:
        parser.error("--speed must be positive")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    from planasonix_provider.sandbox.app import SandboxSettings, generate_api_key
    from planasonix_provider.sandbox.server import airflow_conn_json, base_url, bind, make_server

    api_key = args.api_key or generate_api_key()
    settings = SandboxSettings(
        api_key=api_key,
        seed=args.seed,
        speed=args.speed,
        config=args.config,
        state_file=args.state_file,
        profile=args.profile,
    )
    server = make_server(settings, log_level=args.log_level)
    sock = bind(args.host, args.port)
    url = base_url(args.host, sock)
    print(f"Planasonix sandbox listening on {url}")
    if args.profile != "reference":
        print(f"Profile: {args.profile}")
    print(f"API key: {api_key}")
    print(f"AIRFLOW_CONN_PLANASONIX_DEFAULT='{airflow_conn_json(url, api_key)}'")
    sys.stdout.flush()
    server.run(sockets=[sock])
    return 0


if __name__ == "__main__":
    sys.exit(main())
