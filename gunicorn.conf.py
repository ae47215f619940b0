"""gunicorn settings for ``web:`` in the Procfile. REDIS_URL must be set."""
import os

bind = f"{os.environ.get('HOST', '0.0.0.0')}:{os.environ.get('PORT', '8050')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "gthread"
threads = int(os.environ.get("WEB_THREADS", "4"))
timeout = 30
accesslog = "-"


def post_worker_init(worker):
    """Warm each worker with one layout request: Dash 4.4 under threaded workers can otherwise
    answer its first concurrent callbacks with "Callback function not found" (style.md)."""
    client = worker.wsgi.test_client()
    client.get("/_dash-layout")
    client.get("/_dash-dependencies")
