"""Inbound mail and events: providers' webhooks, classification, matching and effects."""
