-- +goose Up
-- The organisation, staff and their credentials, fault tickets, and the machinery every
-- later table leans on: audit log, idempotency keys and the CSM callback event log.

CREATE TABLE business_units (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    code       text NOT NULL UNIQUE CHECK (code ~ '^[A-Z0-9][A-Z0-9-]{0,19}$'),
    name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    version    integer NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE warehouses (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    code             text NOT NULL UNIQUE CHECK (code ~ '^[A-Z0-9][A-Z0-9-]{0,19}$'),
    name             text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    business_unit_id uuid NOT NULL REFERENCES business_units(id),
    version          integer NOT NULL DEFAULT 1,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX warehouses_business_unit ON warehouses(business_unit_id);

CREATE TABLE centres (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    code             text NOT NULL UNIQUE CHECK (code ~ '^[A-Z0-9][A-Z0-9-]{0,19}$'),
    name             text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    address          text NOT NULL DEFAULT '' CHECK (length(address) <= 500),
    business_unit_id uuid NOT NULL REFERENCES business_units(id),
    time_zone        text NOT NULL DEFAULT 'America/Caracas',
    slot_minutes     integer NOT NULL CHECK (slot_minutes BETWEEN 5 AND 240),
    counters         integer NOT NULL CHECK (counters BETWEEN 1 AND 100),
    version          integer NOT NULL DEFAULT 1,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX centres_business_unit ON centres(business_unit_id);

-- Several intervals a weekday allow a lunch break; the service refuses overlaps.
CREATE TABLE centre_opening_hours (
    centre_id uuid NOT NULL REFERENCES centres(id) ON DELETE CASCADE,
    weekday   smallint NOT NULL CHECK (weekday BETWEEN 1 AND 7),
    opens     time NOT NULL,
    closes    time NOT NULL,
    PRIMARY KEY (centre_id, weekday, opens),
    CHECK (opens < closes)
);

CREATE TABLE centre_closed_days (
    centre_id uuid NOT NULL REFERENCES centres(id) ON DELETE CASCADE,
    day       date NOT NULL,
    PRIMARY KEY (centre_id, day)
);

CREATE TABLE centre_min_stock (
    centre_id uuid NOT NULL REFERENCES centres(id) ON DELETE CASCADE,
    model     text NOT NULL CHECK (length(model) BETWEEN 1 AND 100),
    quantity  integer NOT NULL CHECK (quantity BETWEEN 0 AND 10000),
    PRIMARY KEY (centre_id, model)
);

CREATE TABLE users (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email         text NOT NULL CHECK (email = lower(email) AND length(email) BETWEEN 3 AND 254),
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    password_hash text NOT NULL,
    role          text NOT NULL CHECK (role IN ('counter', 'technician', 'centre_manager', 'warehouse', 'admin')),
    centre_id     uuid REFERENCES centres(id),
    warehouse_id  uuid REFERENCES warehouses(id),
    active        boolean NOT NULL DEFAULT true,
    version       integer NOT NULL DEFAULT 1,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    -- A person's scope follows from their role: one centre, one warehouse, or everywhere.
    CHECK (CASE role
        WHEN 'warehouse' THEN warehouse_id IS NOT NULL AND centre_id IS NULL
        WHEN 'admin' THEN warehouse_id IS NULL AND centre_id IS NULL
        ELSE centre_id IS NOT NULL AND warehouse_id IS NULL
    END)
);
CREATE UNIQUE INDEX users_email ON users(email);

CREATE TABLE api_clients (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    role       text NOT NULL CHECK (role IN ('csm')),
    active     boolean NOT NULL DEFAULT true,
    version    integer NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Tokens are kept only as SHA-256 hashes: a copy of this table opens no session.
CREATE TABLE auth_tokens (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    token_hash    text NOT NULL UNIQUE CHECK (token_hash ~ '^[0-9a-f]{64}$'),
    kind          text NOT NULL CHECK (kind IN ('bearer', 'session', 'api_client')),
    user_id       uuid REFERENCES users(id),
    api_client_id uuid REFERENCES api_clients(id),
    csrf_token    text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz,
    revoked_at    timestamptz,
    CHECK ((user_id IS NULL) <> (api_client_id IS NULL)),
    CHECK ((kind = 'api_client') = (api_client_id IS NOT NULL)),
    CHECK (kind = 'api_client' OR expires_at IS NOT NULL),
    CHECK ((kind = 'session') = (csrf_token IS NOT NULL))
);
CREATE INDEX auth_tokens_user ON auth_tokens(user_id) WHERE revoked_at IS NULL;
CREATE INDEX auth_tokens_api_client ON auth_tokens(api_client_id) WHERE revoked_at IS NULL;

-- Failed logins, counted per account and per address to rate-limit guessing across
-- every replica.
CREATE TABLE login_failures (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email      text NOT NULL,
    address    text NOT NULL,
    failed_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX login_failures_email ON login_failures(email, failed_at);
CREATE INDEX login_failures_address ON login_failures(address, failed_at);

CREATE TABLE tickets (
    id                     uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    ticket_number          text NOT NULL UNIQUE CHECK (ticket_number ~ '^[A-Za-z0-9_/-]{1,40}$'),
    status                 text NOT NULL DEFAULT 'referred'
        CHECK (status IN ('referred', 'scheduled', 'in_service', 'resolved', 'closed', 'cancelled')),
    outcome                text CHECK (outcome IN ('repaired', 'swapped')),
    reported_at            timestamptz NOT NULL,
    -- Faults must be attended within 24 hours of the customer's report.
    sla_due_at             timestamptz NOT NULL CHECK (sla_due_at = reported_at + interval '24 hours'),
    centre_id              uuid REFERENCES centres(id),
    customer_account_number text NOT NULL CHECK (length(customer_account_number) BETWEEN 1 AND 40),
    customer_company       text NOT NULL CHECK (length(customer_company) BETWEEN 1 AND 200),
    customer_contact_name  text NOT NULL CHECK (length(customer_contact_name) BETWEEN 1 AND 200),
    customer_contact_phone text NOT NULL CHECK (customer_contact_phone ~ '^\+58[0-9]{10}$'),
    customer_contact_email text NOT NULL DEFAULT '' CHECK (length(customer_contact_email) <= 254),
    line_msisdn            text NOT NULL CHECK (line_msisdn ~ '^\+584(12|14|16|22|24|26)[0-9]{7}$'),
    device_imei            text NOT NULL CHECK (device_imei ~ '^[0-9]{15}$'),
    device_brand           text NOT NULL CHECK (length(device_brand) BETWEEN 1 AND 100),
    device_model           text NOT NULL CHECK (length(device_model) BETWEEN 1 AND 100),
    fault_category         text NOT NULL CHECK (fault_category IN ('no_power', 'no_signal', 'no_charge',
        'audio', 'screen', 'keypad', 'sim', 'data', 'software', 'physical_damage', 'other')),
    fault_description      text NOT NULL CHECK (length(fault_description) BETWEEN 1 AND 2000),
    cancel_reason          text,
    cancelled_at           timestamptz,
    resolved_at            timestamptz,
    closed_at              timestamptz,
    referral_hash          text NOT NULL CHECK (referral_hash ~ '^[0-9a-f]{64}$'),
    version                integer NOT NULL DEFAULT 1,
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now(),
    CHECK ((status IN ('resolved', 'closed')) = (outcome IS NOT NULL AND resolved_at IS NOT NULL)),
    CHECK ((status = 'closed') = (closed_at IS NOT NULL)),
    CHECK ((status = 'cancelled') = (cancelled_at IS NOT NULL AND cancel_reason IS NOT NULL))
);
CREATE INDEX tickets_centre_due ON tickets(centre_id, sla_due_at, id);
CREATE INDEX tickets_due ON tickets(sla_due_at, id);

CREATE TABLE audit_log (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    occurred_at timestamptz NOT NULL DEFAULT now(),
    actor_kind  text NOT NULL CHECK (actor_kind IN ('user', 'api_client', 'system')),
    actor_id    uuid,
    request_id  text NOT NULL DEFAULT '',
    action      text NOT NULL,
    entity      text NOT NULL,
    entity_id   text NOT NULL,
    centre_id   uuid REFERENCES centres(id),
    before      jsonb,
    after       jsonb
);
CREATE INDEX audit_log_entity ON audit_log(entity, entity_id, id);
CREATE INDEX audit_log_centre ON audit_log(centre_id, id) WHERE centre_id IS NOT NULL;

-- Idempotency-Key: the first response to a key is kept and replayed. A row stays
-- in_flight while its request runs; the lease lets a retry take over a key whose first
-- request died with its server.
CREATE TABLE idempotency_keys (
    principal       text NOT NULL,
    key             text NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    request_hash    text NOT NULL CHECK (request_hash ~ '^[0-9a-f]{64}$'),
    state           text NOT NULL CHECK (state IN ('in_flight', 'done')),
    response_status integer,
    response_type   text,
    response_body   text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    lease_until     timestamptz NOT NULL,
    PRIMARY KEY (principal, key),
    CHECK ((state = 'done') = (response_status IS NOT NULL))
);
CREATE INDEX idempotency_keys_created ON idempotency_keys(created_at);

-- The outbox of callbacks for CSM. Writers take a transaction-scoped advisory lock just
-- before they insert, so sequence numbers are handed out in commit order: a reader that
-- has seen sequence N can never later find a committed event below N.
CREATE SEQUENCE csm_event_sequence AS bigint;
CREATE TABLE csm_events (
    sequence        bigint PRIMARY KEY DEFAULT nextval('csm_event_sequence'),
    id              text NOT NULL UNIQUE CHECK (id ~ '^evt_[0-9a-f]{32}$'),
    type            text NOT NULL CHECK (type IN ('appointment.booked', 'appointment.rescheduled',
        'appointment.cancelled', 'appointment.no_show', 'ticket.in_service',
        'swap.service_change_requested', 'ticket.resolved', 'certificate.voided')),
    ticket_id       uuid NOT NULL REFERENCES tickets(id),
    ticket_number   text NOT NULL,
    occurred_at     timestamptz NOT NULL DEFAULT now(),
    data            jsonb NOT NULL,
    delivery_status text NOT NULL DEFAULT 'pending' CHECK (delivery_status IN ('pending', 'failed', 'delivered', 'dead')),
    attempts        integer NOT NULL DEFAULT 0,
    delivered_at    timestamptz,
    created_xid     xid8 NOT NULL DEFAULT pg_current_xact_id()
);
ALTER SEQUENCE csm_event_sequence OWNED BY csm_events.sequence;
CREATE INDEX csm_events_ticket ON csm_events(ticket_id, sequence);
CREATE INDEX csm_events_undelivered ON csm_events(sequence) WHERE delivery_status <> 'delivered';

-- +goose Down
DROP TABLE csm_events, idempotency_keys, audit_log, tickets, login_failures, auth_tokens,
    api_clients, users, centre_min_stock, centre_closed_days, centre_opening_hours, centres,
    warehouses, business_units;
