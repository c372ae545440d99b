"""The managers' pages under ``/ui``: server-rendered HTML, no script."""
