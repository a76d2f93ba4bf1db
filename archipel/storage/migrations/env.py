"""Alembic environment: migrations run on the connection handed over by archipel.storage.migrate."""

from alembic import context

from archipel.storage.tables import Base, declared

target_metadata = Base.metadata
connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `archipel migrate DIR`")
context.configure(
    connection=connection,
    target_metadata=target_metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    # Each database's own full-text table is not declared in the models: leave it alone.
    include_name=lambda name, type_, _parents: type_ != "table" or declared(name),
)
with context.begin_transaction():
    context.run_migrations()
