"""The REST API (FastAPI): a thin face over the services, with roles, idempotency and audit."""
