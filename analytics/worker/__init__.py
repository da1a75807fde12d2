"""The worker of ``emusa-analytics run``: the job registry (:mod:`.registry`) and the
state a worker keeps between runs (:mod:`.context`), the scheduler, the job state in the
database (:mod:`.store`, :mod:`.periods`), the outbox and its MQTT publisher, the rollup
refresh and the diagnostics retention."""
