"""Tables, engine and migrations. The schema changes only through Alembic migrations."""
