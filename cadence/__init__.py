"""Cadence: an outreach cadence engine.

Prospects are enrolled in cadences; a scheduler enqueues each due touch on dramatiq, workers
render it from a sandboxed Jinja template, deliver it and record it; replies halt at once.
"""

from cadence.core.errors import CadenceError

__all__ = ["CadenceError", "__version__"]
__version__ = "0.1.0"
