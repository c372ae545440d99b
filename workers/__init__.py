"""The worker edge: dramatiq's broker and actors. Thin: actors call cadence's services."""
