"""purchasegraph: a GraphQL gateway over a self-service purchase system."""
