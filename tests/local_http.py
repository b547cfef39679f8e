"""A throwaway ``http.server`` on 127.0.0.1, for tests written as a request handler class.

The sandbox's, reliability and hook tests serve a ``BaseHTTPRequestHandler`` (a webhook receiver,
a stub API) with it. The client tests, which need the bytes on the wire and dropped or held
connections, use ``tests/loopback.py``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@contextmanager
def local_http_server(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """Serve ``handler`` on a free loopback port in a daemon thread; yield the base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
