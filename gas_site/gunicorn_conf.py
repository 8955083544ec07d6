"""gunicorn's settings for the web process (`gunicorn -c python:gas_site.gunicorn_conf gas_site.wsgi`).

Why threads (``gthread``) and not gunicorn's default sync workers: a sync worker serves one
request at a time and is killed when it has not reported to the arbiter for ``timeout`` seconds,
which a long download never does; a slow export would take the whole worker and end cut off
after 30 s. A gthread worker's main thread reports every second while its threads serve, so a
download streams for as long as the client reads (the exports stream from their first second)
and the other threads keep answering; ``timeout`` still replaces a worker that hangs whole (a
deadlock, a runaway C call). Exports take at most ``GAS_EXPORTS_PER_PROCESS`` threads of a
process (the rest get 503 with Retry-After), so pages always have threads left. An async worker
(gevent) would need every library to cooperate (DuckDB, pysam do not); uvicorn would mean ASGI.

Settings (environment): ``GAS_BIND`` (127.0.0.1:8000), ``GAS_WEB_WORKERS`` (2 processes),
``GAS_WEB_THREADS`` (8 per process). gunicorn's control socket is off: GAS does not use it, and
its default path (~/.gunicorn/gunicorn.ctl) is one per user, so two instances on a host clashed.
"""

from __future__ import annotations

from gas_site.env import env_int, env_str

bind = env_str("GAS_BIND", "127.0.0.1:8000")
workers = env_int("GAS_WEB_WORKERS", 2, minimum=1, maximum=64)
worker_class = "gthread"
threads = env_int("GAS_WEB_THREADS", 8, minimum=2, maximum=256)
timeout = 30  # (a worker whose main thread is silent this long is replaced)
graceful_timeout = 20  # (a restart lets running requests finish this long)
keepalive = 5
accesslog = "-"
control_socket_disable = True
