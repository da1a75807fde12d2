"""The demand controller: the running 15-minute demand interval projected from the raw
readings against the contracted limit (``control``, pure), and the job that alerts on a
projected excess and records each interval's outcome (``job``)."""
