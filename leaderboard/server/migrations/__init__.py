"""Alembic migrations of the server's database (applied by `Database.migrate` on start)."""
