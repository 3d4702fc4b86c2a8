"""The demo world: one of every kind of actor, tenant and subscription state, seeded for
development and tests. ``actors`` is who is in it, ``history`` what happened to them, ``world``
the seed that writes both into a database, ``tokens`` the development sign-in for its users and
``global_ids`` what API callers send to name its rows."""
