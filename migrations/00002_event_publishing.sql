-- +goose Up
-- Events get their feed sequence when they are published, not when they are written.
-- Writers no longer serialise on an advisory lock held to commit (which capped every
-- event-writing use case at one commit at a time); instead a publisher numbers only the
-- events whose transactions are older than every transaction still running, so no
-- later commit can take a number below one a reader has passed. `position` keeps the
-- order of writing, which per ticket is commit order because writers lock the ticket.
ALTER TABLE csm_events DROP CONSTRAINT csm_events_pkey;
ALTER TABLE csm_events ALTER COLUMN sequence DROP DEFAULT, ALTER COLUMN sequence DROP NOT NULL;
ALTER SEQUENCE csm_event_sequence OWNED BY NONE;
ALTER SEQUENCE csm_event_sequence RENAME TO csm_event_position;
ALTER TABLE csm_events ADD COLUMN position bigint;
UPDATE csm_events SET position = sequence;
ALTER TABLE csm_events ALTER COLUMN position SET NOT NULL,
    ALTER COLUMN position SET DEFAULT nextval('csm_event_position'),
    ADD PRIMARY KEY (position);
ALTER SEQUENCE csm_event_position OWNED BY csm_events.position;
CREATE UNIQUE INDEX csm_events_sequence ON csm_events(sequence) WHERE sequence IS NOT NULL;
CREATE INDEX csm_events_unpublished ON csm_events(position) WHERE sequence IS NULL;
DROP INDEX csm_events_ticket;
CREATE INDEX csm_events_ticket ON csm_events(ticket_id, position);

-- +goose Down
DROP INDEX csm_events_unpublished, csm_events_sequence;
ALTER TABLE csm_events DROP CONSTRAINT csm_events_pkey;
UPDATE csm_events SET sequence = position WHERE sequence IS NULL;
ALTER TABLE csm_events DROP COLUMN position;
ALTER SEQUENCE csm_event_position RENAME TO csm_event_sequence;
ALTER TABLE csm_events ALTER COLUMN sequence SET NOT NULL,
    ALTER COLUMN sequence SET DEFAULT nextval('csm_event_sequence'), ADD PRIMARY KEY (sequence);
ALTER SEQUENCE csm_event_sequence OWNED BY csm_events.sequence;
