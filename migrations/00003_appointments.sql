-- +goose Up
-- Appointments at a centre's counters, the per-slot capacity that bounds them, and the
-- repair order that check-in opens.

-- One row per slot that has ever been booked. `booked` counts its active appointments
-- (booked or checked in) and is reserved by a conditional UPDATE in the same transaction
-- as the appointment, so the CHECK below holds whatever the concurrency. `capacity` is the
-- centre's counters, kept up to date for slots still to come when the counters change.
CREATE TABLE slots (
    centre_id  uuid NOT NULL REFERENCES centres(id),
    starts_at  timestamptz NOT NULL,
    ends_at    timestamptz NOT NULL,
    capacity   integer NOT NULL CHECK (capacity >= 0),
    booked     integer NOT NULL DEFAULT 0 CHECK (booked >= 0),
    PRIMARY KEY (centre_id, starts_at),
    CHECK (ends_at > starts_at),
    CONSTRAINT slot_not_overbooked CHECK (booked <= capacity)
);

CREATE TABLE appointments (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    ticket_id     uuid NOT NULL REFERENCES tickets(id),
    centre_id     uuid NOT NULL REFERENCES centres(id),
    starts_at     timestamptz NOT NULL,
    ends_at       timestamptz NOT NULL,
    status        text NOT NULL CHECK (status IN ('booked', 'checked_in', 'completed', 'cancelled', 'no_show')),
    walk_in       boolean NOT NULL DEFAULT false,
    cancel_reason text CHECK (length(cancel_reason) <= 500),
    cancelled_at  timestamptz,
    no_show_at    timestamptz,
    checked_in_at timestamptz,
    version       integer NOT NULL DEFAULT 1,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (centre_id, starts_at) REFERENCES slots(centre_id, starts_at),
    CHECK (ends_at > starts_at),
    CHECK ((status = 'cancelled') = (cancelled_at IS NOT NULL)),
    CHECK ((status = 'no_show') = (no_show_at IS NOT NULL)),
    CHECK ((status IN ('checked_in', 'completed')) = (checked_in_at IS NOT NULL))
);
-- A ticket has at most one active appointment.
CREATE UNIQUE INDEX appointments_one_active ON appointments(ticket_id) WHERE status IN ('booked', 'checked_in');
CREATE INDEX appointments_centre_start ON appointments(centre_id, starts_at);
CREATE INDEX appointments_ticket ON appointments(ticket_id, created_at);

CREATE TABLE repair_orders (
    id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    ticket_id            uuid NOT NULL REFERENCES tickets(id),
    appointment_id       uuid NOT NULL UNIQUE REFERENCES appointments(id),
    centre_id            uuid NOT NULL REFERENCES centres(id),
    status               text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'certified', 'abandoned')),
    received_imei        text NOT NULL CHECK (received_imei ~ '^[0-9]{15}$'),
    imei_mismatch_reason text CHECK (length(imei_mismatch_reason) BETWEEN 1 AND 500),
    received_condition   text NOT NULL CHECK (length(received_condition) BETWEEN 1 AND 1000),
    accessories          jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(accessories) = 'array'),
    checked_in_by        uuid REFERENCES users(id),
    version              integer NOT NULL DEFAULT 1,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX repair_orders_one_open ON repair_orders(ticket_id) WHERE status = 'open';
CREATE INDEX repair_orders_centre ON repair_orders(centre_id, created_at);

-- +goose Down
DROP TABLE repair_orders, appointments, slots;
