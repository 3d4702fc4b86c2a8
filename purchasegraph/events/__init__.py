"""Live purchase events: published by PostgreSQL, heard once per process, streamed over websockets.

- Publication: migration 0005 announces each committed purchase event with pg_notify from the
  transaction that audits it, so a change that rolls back announces nothing.
- Delivery: ``hub.EventHub``, one LISTEN connection per process fanned out to per-subscriber
  queues; started and stopped with the app's lifespan.
- Transport: ``transport.EventStreams``, graphql-transport-ws on /graphql (Strawberry's protocol
  handler; the gateway's own engine checks and runs the documents).
- Authorization: ``stream.StreamContext``; the token in ``connection_init`` is verified once for
  the connection, and the viewer and scope are read again for every event
  (``purchasegraph.schema.events``).
"""
