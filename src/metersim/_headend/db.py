"""Open the head end's database and bring its schema to the newest migration (Alembic, run
in-process). An SQLite file by default; PostgreSQL with a postgresql+psycopg:// URL."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import sessionmaker

from .._errors import SetupError

MIGRATIONS = Path(__file__).with_name("migrations")
DEFAULT_URL = "sqlite:///headend.db"


def normalise_url(url: str) -> str:
    """A bare file path means SQLite; postgresql:// means psycopg 3 (the driver installed)."""
    if "://" not in url:
        return f"sqlite:///{Path(url).resolve()}"
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")     # SQLite leaves foreign keys unchecked otherwise
    # write-ahead log: readers (the API) do not block the link's writes, and a commit costs
    # one log append instead of a journal round trip
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def migrate(engine: Engine) -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def open_database(url: str = DEFAULT_URL) -> tuple[Engine, sessionmaker]:
    url = normalise_url(url)
    try:
        backend = make_url(url).get_backend_name()
    except ArgumentError as e:
        raise SetupError(f"database URL {url!r} is not a URL SQLAlchemy understands: {e}") from None
    if backend not in ("sqlite", "postgresql"):
        raise SetupError(f"database URL {url!r}: expected sqlite:/// or postgresql://")
    kw = {"connect_args": {"check_same_thread": False}} if backend == "sqlite" else {}
    engine = create_engine(url, **kw)
    if backend == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    try:
        migrate(engine)
    except Exception as e:
        raise SetupError(f"could not open or migrate the database {engine.url!r}: {e}") from e
    return engine, sessionmaker(engine, expire_on_commit=False)
