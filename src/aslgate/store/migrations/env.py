"""Alembic environment: runs against the connection aslgate hands it (see store.db.migrate)."""

from alembic import context

from aslgate.store.models import Base

connection = context.config.attributes.get("connection")
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
