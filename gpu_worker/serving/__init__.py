"""The worker's serving loop, in small parts: ``scheduling`` (pure decisions over rows),
``claim`` (atomic claim of a batch), ``batch`` (one engine pass for several jobs), ``store``
(the background encode + upload + commit stage) and ``loop`` (what an RQ job runs)."""
