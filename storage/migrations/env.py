"""Alembic environment: runs migrations on the engine Peerbot hands over."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import storage.models  # noqa: F401  (registers the tables on SQLModel.metadata)
from storage.fulltext import include_name

config = context.config
engine = config.attributes.get("engine")
if engine is None:
    raise RuntimeError("run migrations through `peerbot db upgrade`, which passes the engine")

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=SQLModel.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_name=include_name,  # search_* objects are the full-text index's, made by hand in 0002
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
