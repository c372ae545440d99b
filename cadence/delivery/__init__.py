"""A worker's job: claim a batch of touches, compose and send them, record the outcomes."""
