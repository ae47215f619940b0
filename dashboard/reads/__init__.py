"""Each domain's Redis reads for its page and API: ``dashboard.reads.<domain>`` (read only; raise
StoreUnavailable through ``Store.call`` when Redis does not answer)."""
