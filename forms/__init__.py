"""Survey definitions (XLSForm) and the pure library around them: compile, read, list, hash."""
