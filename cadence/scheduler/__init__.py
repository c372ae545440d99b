"""The scheduler's side: find due touches, claim them, enqueue them, recover lost ones."""
