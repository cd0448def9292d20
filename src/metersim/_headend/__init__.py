"""The prepaid cabinets' PC server ("head end"): an SQL database (SQLite by default, PostgreSQL
by URL; SQLAlchemy 2 models with Alembic migrations), the TCP service the query managers connect
to, a REST API with operator and admin roles, and a live dashboard. docs/headend.md."""

from .db import open_database
from .server import Headend

__all__ = ["Headend", "open_database"]
