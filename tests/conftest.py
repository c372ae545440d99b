"""Shared fixtures. Tests run in Europe/Berlin on purpose: a bug that assumes the machine is
on UTC shows up here, not in production."""

import os
import time

os.environ["TZ"] = "Europe/Berlin"
time.tzset()
# Settings come from fixtures only; a developer's .env or shell must not leak into tests.
for _name in list(os.environ):
    if _name.startswith("CADENCE_") and not _name.startswith("CADENCE_TEST_"):
        del os.environ[_name]
