"""Prospects in cadences: import, enrollment, progress, events and their effects, tasks."""
