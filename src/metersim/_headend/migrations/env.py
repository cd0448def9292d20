"""Alembic environment: the head end runs migrations itself (db.open_database) on a connection
it passes in config.attributes["connection"]."""

from alembic import context

# no import of the models here: upgrades need only the revision scripts (and the package may
# be renamed); tests/headend compares the migrated schema with the models
connection = context.config.attributes["connection"]
context.configure(connection=connection, render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
