"""The template linter: pure checks of rendered text against the selling rules."""
