"""The `amanat` command line: a thin face over the services."""
