"""SQL per entity, each constant beside the function that runs it."""
