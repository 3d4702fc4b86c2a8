-- Audit rows record what the gateway vouches for, bounded whatever a client sends.
--
-- request_id is the gateway's own id for the request (the one in its log lines and masked
-- errors); the id a client sent in X-Request-Id is kept beside it, in client_request_id, so a
-- caller can no longer make its refusals carry another request's id. The application bounds
-- target ids (commerce/unit_of_work.py, audit_text); the checks are the backstop, NOT VALID so
-- rows written before this migration stay as they are (the table is append-only).
ALTER TABLE audit_events
    ADD COLUMN client_request_id text;
ALTER TABLE audit_events
    ADD CONSTRAINT audit_events_target_id_bounded CHECK (length(target_id) <= 256) NOT VALID,
    ADD CONSTRAINT audit_events_request_id_bounded CHECK (length(request_id) <= 128) NOT VALID,
    ADD CONSTRAINT audit_events_client_request_id_bounded CHECK (length(client_request_id) <= 128) NOT VALID;
