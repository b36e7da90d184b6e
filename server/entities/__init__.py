"""Entity lists (ODK datasets) for phones, entity updates from submissions, assignments."""
