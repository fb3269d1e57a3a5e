"""The worker's serving loop, in small parts: ``loop`` (what an RQ job runs), ``claim``
(atomic claim of the scheduler's next batch; the scheduling decisions themselves are pure
functions in ``generation.queue.scheduling``), ``batch_pass`` (one engine pass for several
jobs), ``solo`` (one job alone: consistency rounds, the low-memory retry), ``output`` (what a
run produced, scored and repaired) and ``storage_stage`` (the background encode + upload +
commit). What a run raised becomes an outcome through ``gpu_worker.failures``."""
