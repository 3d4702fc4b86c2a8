"""Everything that talks to PostgreSQL: pool, migrations, queries, loaders, embedded server, seed."""
