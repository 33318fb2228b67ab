"""Alembic environment: runs migrations against the URL Amanat passes in."""

from alembic import context
from sqlalchemy import create_engine

from amanat.store.models import Base

config = context.config
target_metadata = Base.metadata

engine = create_engine(str(config.get_main_option("sqlalchemy.url")))
with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
