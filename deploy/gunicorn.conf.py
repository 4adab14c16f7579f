# Sample gunicorn configuration for running Sanctum under your own gunicorn command:
#
#     gunicorn -c deploy/gunicorn.conf.py app:app
#
# `sanctum serve --workers N` starts gunicorn with these same settings and is the simpler
# choice; use this file when a process manager must own the gunicorn command line.
# Several workers need SANCTUM_REDIS_URL (events and jobs cross processes through Redis)
# and `sanctum worker` processes to run the jobs. Apply migrations first with
# `sanctum db upgrade` (one process; see README "Running several processes").
import multiprocessing
import os

bind = os.environ.get("SANCTUM_BIND", "127.0.0.1:5000")
workers = int(os.environ.get("SANCTUM_WEB_WORKERS", min(4, multiprocessing.cpu_count())))
# Threads, not async workers: flask-sock websockets hold one thread each while open.
worker_class = "gthread"
threads = int(os.environ.get("SANCTUM_SERVER_THREADS", 32))
timeout = 60
graceful_timeout = 10
keepalive = 5
control_socket_disable = True
accesslog = "-"
# The path without the query string: mailed links carry single-use tokens there.
access_log_format = '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(M)sms rid=%({x-request-id}o)s'


def post_worker_init(worker):
    """Refuse to serve with a secret key other than the running peers' (sanctum.cluster)."""
    from sanctum.cluster import join_cluster

    join_cluster(worker.wsgi, "web")
