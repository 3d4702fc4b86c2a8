"""Role-scoped resolvers: each asks the context for the viewer's scope in a tenant and hands
that value to a query or loader, which applies it in SQL. None of them looks at roles."""
