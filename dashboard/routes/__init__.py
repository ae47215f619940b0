"""Each domain's API routes under /api/v1: ``dashboard.routes.<domain>`` (see feeds.plugins)."""
