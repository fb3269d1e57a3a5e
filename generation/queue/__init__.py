"""How generation jobs wait and are served: ``scheduling`` (pure decisions over queued rows:
batches, fair share, LoRA affinity, estimates), ``order`` (the queued rows in the order the
workers serve them) and ``position`` (where a queued job stands, for the API and pages). The
queues themselves are ``work.redis_queue``'s; which one a job goes to is
``generation.work_kind``'s."""
