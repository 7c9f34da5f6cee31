"""Every Click command; the only code that reads the environment or prints."""
