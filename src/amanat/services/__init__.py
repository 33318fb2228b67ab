"""Use cases of the platform: each takes a Platform and named actors, and returns plain data."""
