"""``cadence demo``: the whole engine in one process on a simulated clock."""
