"""Defaults shared by the client, the connection form and the docs. Imports nothing, so that
Airflow's provider discovery (which reads the connection form) stays cheap."""

DEFAULT_BASE_URL = "https://api.planasonix.com"
DEFAULT_TIMEOUT = 30.0
DEFAULT_CONNECT_TIMEOUT = 10.0
DEFAULT_MAX_CONNECTIONS = 100
DEFAULT_RETRY_ATTEMPTS = 5
DEFAULT_RETRY_BACKOFF_BASE = 0.5
DEFAULT_RETRY_MAX_WAIT = 30.0
DEFAULT_HTTP_TRANSPORT = "auto"
#: The HTTP libraries the async client can send with; ``auto`` takes aiohttp when installed.
HTTP_TRANSPORTS = ("auto", "httpx", "aiohttp")
