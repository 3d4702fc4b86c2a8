"""The HTTP face of the gateway: GraphQL over HTTP, limits, throttling, trusted documents."""
