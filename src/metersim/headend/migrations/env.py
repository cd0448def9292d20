"""Alembic environment: the head end runs migrations itself (db.open_database) on a connection
it passes in config.attributes["connection"]."""

from alembic import context

from metersim.headend.models import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
