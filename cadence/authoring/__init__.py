"""What marketing writes: templates, cadences and config files, loaded, rendered and linted."""
