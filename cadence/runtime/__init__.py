"""What a process runs with: settings, the shipped defaults and the application context."""
