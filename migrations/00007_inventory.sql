-- +goose Up
-- Backup devices and faulty handsets as serialised units, their ledger, swaps at the
-- counter, return shipments to the warehouse and restock requests.

-- A unit is one physical handset. Its kind, state and place are the last movement's:
-- a unit moves only by a row in stock_movements (see the triggers below).
CREATE TABLE inventory_units (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    imei         text NOT NULL UNIQUE CHECK (imei ~ '^[0-9]{15}$'),
    brand        text NOT NULL CHECK (length(brand) BETWEEN 1 AND 100),
    model        text NOT NULL CHECK (length(model) BETWEEN 1 AND 100),
    kind         text NOT NULL CHECK (kind IN ('backup', 'faulty')),
    state        text NOT NULL,
    location     text NOT NULL CHECK (location IN ('centre', 'warehouse', 'in_transit', 'customer')),
    -- Where it is, or for in_transit where it is going.
    centre_id    uuid REFERENCES centres(id),
    warehouse_id uuid REFERENCES warehouses(id),
    -- The customer's ticket, for a unit with a customer or taken from one.
    ticket_id    uuid REFERENCES tickets(id),
    version      integer NOT NULL DEFAULT 1,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    CHECK ((kind = 'backup' AND state IN ('in_transit', 'in_stock', 'assigned'))
        OR (kind = 'faulty' AND state IN ('received', 'in_return', 'returned', 'handed_back'))),
    CHECK (num_nonnulls(centre_id, warehouse_id) <= 1),
    CHECK (location <> 'centre' OR centre_id IS NOT NULL),
    CHECK (location <> 'warehouse' OR warehouse_id IS NOT NULL),
    CHECK (location <> 'customer' OR (centre_id IS NULL AND warehouse_id IS NULL)),
    CHECK ((location = 'customer') = (state IN ('assigned', 'handed_back'))),
    CHECK ((location = 'in_transit') = (state IN ('in_transit', 'in_return')))
);
CREATE INDEX inventory_units_centre ON inventory_units(centre_id, kind, state, model) WHERE centre_id IS NOT NULL;
CREATE INDEX inventory_units_warehouse ON inventory_units(warehouse_id, kind, state, model) WHERE warehouse_id IS NOT NULL;
-- A swap by model takes the oldest backup device in stock: this index hands it over
-- without reading the shelf.
CREATE INDEX inventory_units_pick ON inventory_units(centre_id, lower(model), created_at, imei)
    WHERE kind = 'backup' AND state = 'in_stock';

CREATE TABLE swaps (
    id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    reference          text NOT NULL UNIQUE,
    repair_id          uuid NOT NULL REFERENCES repair_orders(id),
    ticket_id          uuid NOT NULL REFERENCES tickets(id),
    centre_id          uuid NOT NULL REFERENCES centres(id),
    faulty_unit_id     uuid NOT NULL REFERENCES inventory_units(id),
    backup_unit_id     uuid NOT NULL REFERENCES inventory_units(id),
    msisdn             text NOT NULL,
    status             text NOT NULL DEFAULT 'requested' CHECK (status IN ('requested', 'confirmed', 'failed', 'undone')),
    detail             text CHECK (length(detail) <= 1000),
    requests           integer NOT NULL DEFAULT 1 CHECK (requests >= 1),
    technician_id      uuid REFERENCES users(id),
    technician_name    text NOT NULL,
    endorsement_pdf    bytea NOT NULL,
    endorsement_sha256 text NOT NULL,
    settled_at         timestamptz,
    undone_at          timestamptz,
    undo_reason        text CHECK (length(undo_reason) BETWEEN 1 AND 500),
    version            integer NOT NULL DEFAULT 1,
    created_at         timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL,
    CHECK (endorsement_sha256 = encode(sha256(endorsement_pdf), 'hex')),
    CHECK ((status = 'undone') = (undone_at IS NOT NULL AND undo_reason IS NOT NULL)),
    CHECK (faulty_unit_id <> backup_unit_id)
);
-- One backup unit is never assigned twice, and a repair has one swap at a time: an undone
-- swap stays on record and frees both.
CREATE UNIQUE INDEX swaps_one_per_backup ON swaps(backup_unit_id) WHERE status <> 'undone';
CREATE UNIQUE INDEX swaps_one_per_repair ON swaps(repair_id) WHERE status <> 'undone';
CREATE INDEX swaps_centre ON swaps(centre_id, created_at);
CREATE INDEX swaps_live_centre ON swaps(centre_id) WHERE status <> 'undone';

CREATE TABLE return_shipments (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    reference       text NOT NULL UNIQUE,
    centre_id       uuid NOT NULL REFERENCES centres(id),
    warehouse_id    uuid NOT NULL REFERENCES warehouses(id),
    status          text NOT NULL DEFAULT 'draft'
        CHECK (status IN ('draft', 'dispatched', 'received', 'received_with_discrepancies')),
    created_by      uuid REFERENCES users(id),
    dispatched_at   timestamptz,
    dispatched_by   text,
    received_at     timestamptz,
    received_by     uuid REFERENCES users(id),
    packing_pdf     bytea,
    packing_sha256  text,
    version         integer NOT NULL DEFAULT 1,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    CHECK ((status = 'draft') = (dispatched_at IS NULL)),
    CHECK ((status IN ('received', 'received_with_discrepancies')) = (received_at IS NOT NULL)),
    CHECK ((packing_pdf IS NULL) = (dispatched_at IS NULL)),
    CHECK (packing_pdf IS NULL OR packing_sha256 = encode(sha256(packing_pdf), 'hex'))
);
CREATE INDEX return_shipments_centre ON return_shipments(centre_id, status, created_at);
CREATE INDEX return_shipments_warehouse ON return_shipments(warehouse_id, status, created_at);

-- A faulty unit travels back once in its life.
CREATE TABLE return_items (
    return_id uuid NOT NULL REFERENCES return_shipments(id),
    unit_id   uuid NOT NULL UNIQUE REFERENCES inventory_units(id),
    PRIMARY KEY (return_id, unit_id)
);

-- Missing, unexpected and damaged units found at receipt, each open until resolved.
CREATE TABLE return_discrepancies (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    return_id   uuid NOT NULL REFERENCES return_shipments(id),
    imei        text NOT NULL CHECK (imei ~ '^[0-9]{15}$'),
    kind        text NOT NULL CHECK (kind IN ('missing', 'unexpected', 'damaged')),
    resolved_at timestamptz,
    resolved_by uuid REFERENCES users(id),
    resolution  text CHECK (length(resolution) BETWEEN 1 AND 1000),
    created_at  timestamptz NOT NULL,
    UNIQUE (return_id, imei, kind),
    CHECK ((resolved_at IS NULL) = (resolution IS NULL))
);

CREATE TABLE restock_requests (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    reference      text NOT NULL UNIQUE,
    centre_id      uuid NOT NULL REFERENCES centres(id),
    warehouse_id   uuid NOT NULL REFERENCES warehouses(id),
    status         text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'fulfilled', 'received', 'rejected')),
    note           text CHECK (length(note) <= 1000),
    reject_reason  text CHECK (length(reject_reason) BETWEEN 1 AND 500),
    fulfilled_at   timestamptz,
    received_at    timestamptz,
    rejected_at    timestamptz,
    version        integer NOT NULL DEFAULT 1,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    CHECK ((status = 'rejected') = (rejected_at IS NOT NULL AND reject_reason IS NOT NULL)),
    CHECK ((status IN ('fulfilled', 'received')) = (fulfilled_at IS NOT NULL)),
    CHECK ((status = 'received') = (received_at IS NOT NULL))
);
-- Automatic and manual lines consolidate into the centre's one open request.
CREATE UNIQUE INDEX restock_one_open ON restock_requests(centre_id) WHERE status = 'open';
CREATE INDEX restock_requests_warehouse ON restock_requests(warehouse_id, status, created_at);

CREATE TABLE restock_lines (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    request_id uuid NOT NULL REFERENCES restock_requests(id),
    model      text NOT NULL CHECK (length(model) BETWEEN 1 AND 100),
    quantity   integer NOT NULL CHECK (quantity BETWEEN 0 AND 1000),
    -- carried_over: what a partial fulfilment left, asked again in the next request.
    origin     text NOT NULL CHECK (origin IN ('swap', 'below_minimum', 'manual', 'carried_over')),
    swap_id    uuid UNIQUE REFERENCES swaps(id),
    created_at timestamptz NOT NULL,
    CHECK ((origin = 'swap') = (swap_id IS NOT NULL))
);
CREATE INDEX restock_lines_request ON restock_lines(request_id);

-- The units a fulfilment shipped, and when the centre scanned each in.
CREATE TABLE restock_units (
    request_id  uuid NOT NULL REFERENCES restock_requests(id),
    unit_id     uuid NOT NULL REFERENCES inventory_units(id),
    shipped_at  timestamptz NOT NULL,
    received_at timestamptz,
    PRIMARY KEY (request_id, unit_id)
);
CREATE UNIQUE INDEX restock_units_in_transit ON restock_units(unit_id) WHERE received_at IS NULL;

-- The ledger: every move of every unit, never changed.
CREATE TABLE stock_movements (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    unit_id           uuid NOT NULL REFERENCES inventory_units(id),
    at                timestamptz NOT NULL,
    actor_kind        text NOT NULL,
    actor_id          uuid,
    reason            text NOT NULL CHECK (reason IN ('registered', 'swap_out', 'swap_in', 'swap_undone',
        'return_dispatched', 'return_received', 'restock_shipped', 'restock_received')),
    kind              text NOT NULL CHECK (kind IN ('backup', 'faulty')),
    from_state        text,
    from_location     text,
    from_centre_id    uuid REFERENCES centres(id),
    from_warehouse_id uuid REFERENCES warehouses(id),
    to_state          text NOT NULL,
    to_location       text NOT NULL,
    to_centre_id      uuid REFERENCES centres(id),
    to_warehouse_id   uuid REFERENCES warehouses(id),
    ticket_id         uuid REFERENCES tickets(id),
    swap_id           uuid REFERENCES swaps(id),
    return_id         uuid REFERENCES return_shipments(id),
    restock_id        uuid REFERENCES restock_requests(id),
    note              text CHECK (length(note) <= 1000)
);
CREATE INDEX stock_movements_unit ON stock_movements(unit_id, id);

-- +goose StatementBegin
-- A movement moves its unit: it must start where the unit is (a first movement, from
-- nowhere, only for a unit that has none), and the unit ends where it says.
CREATE FUNCTION stock_movement_applies() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    u inventory_units;
BEGIN
    SELECT * INTO u FROM inventory_units WHERE id = NEW.unit_id FOR UPDATE;
    IF NEW.from_state IS NULL THEN
        IF EXISTS (SELECT FROM stock_movements WHERE unit_id = NEW.unit_id AND id <> NEW.id) THEN
            RAISE EXCEPTION 'unit % already has movements', u.imei USING ERRCODE = 'check_violation', CONSTRAINT = 'stock_movement_from';
        END IF;
    ELSIF (u.state, u.location, u.centre_id, u.warehouse_id) IS DISTINCT FROM
          (NEW.from_state, NEW.from_location, NEW.from_centre_id, NEW.from_warehouse_id) THEN
        RAISE EXCEPTION 'unit % is not where the movement starts', u.imei USING ERRCODE = 'check_violation', CONSTRAINT = 'stock_movement_from';
    END IF;
    UPDATE inventory_units SET kind = NEW.kind, state = NEW.to_state, location = NEW.to_location,
        centre_id = NEW.to_centre_id, warehouse_id = NEW.to_warehouse_id,
        ticket_id = COALESCE(NEW.ticket_id, ticket_id), version = version + 1, updated_at = NEW.at
    WHERE id = NEW.unit_id;
    RETURN NULL;
END $$;

-- A unit's place changes only through the ledger (the trigger above runs one level down).
CREATE FUNCTION inventory_units_through_ledger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF pg_trigger_depth() < 2 AND (OLD.kind, OLD.state, OLD.location, OLD.centre_id, OLD.warehouse_id)
        IS DISTINCT FROM (NEW.kind, NEW.state, NEW.location, NEW.centre_id, NEW.warehouse_id) THEN
        RAISE EXCEPTION 'unit % moves only by a stock movement', OLD.imei USING ERRCODE = 'check_violation', CONSTRAINT = 'inventory_units_through_ledger';
    END IF;
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'unit % cannot be deleted', OLD.imei USING ERRCODE = 'check_violation', CONSTRAINT = 'inventory_units_through_ledger';
    END IF;
    RETURN NEW;
END $$;

-- Every unit enters with its first movement, in the same transaction.
CREATE FUNCTION inventory_units_registered() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT FROM stock_movements WHERE unit_id = NEW.id) THEN
        RAISE EXCEPTION 'unit % has no movement', NEW.imei USING ERRCODE = 'check_violation', CONSTRAINT = 'inventory_units_registered';
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION stock_movements_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the ledger is never changed' USING ERRCODE = 'check_violation', CONSTRAINT = 'stock_movements_immutable';
END $$;
-- +goose StatementEnd

CREATE TRIGGER stock_movement_applies AFTER INSERT ON stock_movements
    FOR EACH ROW EXECUTE FUNCTION stock_movement_applies();
CREATE TRIGGER inventory_units_through_ledger BEFORE UPDATE OR DELETE ON inventory_units
    FOR EACH ROW EXECUTE FUNCTION inventory_units_through_ledger();
CREATE CONSTRAINT TRIGGER inventory_units_registered AFTER INSERT ON inventory_units
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION inventory_units_registered();
CREATE TRIGGER stock_movements_immutable BEFORE UPDATE OR DELETE ON stock_movements
    FOR EACH ROW EXECUTE FUNCTION stock_movements_immutable();

-- Ours, added to the contract's events: a swap reversed before CSM confirmed it.
ALTER TABLE csm_events DROP CONSTRAINT csm_events_type_check, ADD CONSTRAINT csm_events_type_check CHECK (type IN (
    'appointment.booked', 'appointment.rescheduled', 'appointment.cancelled', 'appointment.no_show', 'ticket.in_service',
    'swap.service_change_requested', 'swap.undone', 'ticket.resolved', 'certificate.voided'));

-- +goose Down
ALTER TABLE csm_events DROP CONSTRAINT csm_events_type_check, ADD CONSTRAINT csm_events_type_check CHECK (type IN (
    'appointment.booked', 'appointment.rescheduled', 'appointment.cancelled', 'appointment.no_show', 'ticket.in_service',
    'swap.service_change_requested', 'ticket.resolved', 'certificate.voided'));
DROP TABLE stock_movements, restock_units, restock_lines, restock_requests, return_discrepancies,
    return_items, return_shipments, swaps, inventory_units;
DROP FUNCTION stock_movement_applies(), inventory_units_through_ledger(), inventory_units_registered(),
    stock_movements_immutable();
