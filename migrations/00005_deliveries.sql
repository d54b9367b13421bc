-- +goose Up
-- Delivery of the CSM events: when each is next due, the lease of the worker sending it
-- (so a crashed worker's events are taken over), and every attempt with its outcome.
ALTER TABLE csm_events
    ADD COLUMN next_attempt_at timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN lease_until timestamptz,
    ADD COLUMN cycle_attempts integer NOT NULL DEFAULT 0 CHECK (cycle_attempts >= 0),
    ADD COLUMN last_error text;
CREATE INDEX csm_events_due ON csm_events(sequence)
    WHERE delivery_status IN ('pending', 'failed') AND sequence IS NOT NULL;

CREATE TABLE csm_delivery_attempts (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_position bigint NOT NULL REFERENCES csm_events(position),
    attempted_at   timestamptz NOT NULL,
    status_code    integer,
    latency_ms     integer NOT NULL CHECK (latency_ms >= 0),
    error          text,
    CHECK (status_code IS NOT NULL OR error IS NOT NULL)
);
CREATE INDEX csm_delivery_attempts_event ON csm_delivery_attempts(event_position, id);

-- +goose Down
DROP TABLE csm_delivery_attempts;
DROP INDEX csm_events_due;
ALTER TABLE csm_events DROP COLUMN next_attempt_at, DROP COLUMN lease_until, DROP COLUMN cycle_attempts, DROP COLUMN last_error;
