-- +goose Up
-- The bench: what the technician found and did, the test checklist, and the certificates
-- the customer takes home.

-- Catalogue items are never deleted, only retired (active = false): recorded results and
-- actions keep pointing at them.
CREATE TABLE test_catalogue (
    code       text PRIMARY KEY CHECK (code ~ '^[a-z][a-z0-9_]{1,39}$'),
    name_es    text NOT NULL CHECK (length(name_es) BETWEEN 1 AND 100),
    name_en    text NOT NULL CHECK (length(name_en) BETWEEN 1 AND 100),
    mandatory  boolean NOT NULL,
    active     boolean NOT NULL DEFAULT true,
    position   integer NOT NULL DEFAULT 0 CHECK (position BETWEEN 0 AND 10000),
    version    integer NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE corrective_action_catalogue (
    code       text PRIMARY KEY CHECK (code ~ '^[a-z][a-z0-9_]{1,39}$'),
    name_es    text NOT NULL CHECK (length(name_es) BETWEEN 1 AND 100),
    name_en    text NOT NULL CHECK (length(name_en) BETWEEN 1 AND 100),
    active     boolean NOT NULL DEFAULT true,
    position   integer NOT NULL DEFAULT 0 CHECK (position BETWEEN 0 AND 10000),
    version    integer NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Keypad, camera and Wi-Fi/Bluetooth are optional: not every handset has them.
INSERT INTO test_catalogue (code, name_es, name_en, mandatory, position) VALUES
    ('power_on',          'Encendido',                    'Power on',                      true,  10),
    ('network_signal',    'Registro en la red y señal',   'Network registration and signal', true, 20),
    ('call_outgoing',     'Llamada saliente',             'Outgoing call',                 true,  30),
    ('call_incoming',     'Llamada entrante',             'Incoming call',                 true,  40),
    ('sms',               'SMS (envío y recepción)',      'SMS (send and receive)',        true,  50),
    ('mobile_data',       'Datos móviles',                'Mobile data',                   true,  60),
    ('charging',          'Carga de batería',             'Battery charging',              true,  70),
    ('earpiece',          'Auricular',                    'Earpiece',                      true,  80),
    ('loudspeaker',       'Altavoz',                      'Loudspeaker',                   true,  90),
    ('microphone',        'Micrófono',                    'Microphone',                    true, 100),
    ('screen_touch',      'Pantalla y táctil',            'Screen and touch',              true, 110),
    ('keypad',            'Teclado',                      'Keypad',                        false, 120),
    ('sim_reader',        'Lector de SIM',                'SIM reader',                    true, 130),
    ('camera',            'Cámara',                       'Camera',                        false, 140),
    ('wifi_bluetooth',    'Wi-Fi y Bluetooth',            'Wi-Fi and Bluetooth',           false, 150);

INSERT INTO corrective_action_catalogue (code, name_es, name_en, position) VALUES
    ('software_reflash',     'Reinstalación del software',       'Software reflash',            10),
    ('factory_reset',        'Restablecimiento de fábrica',      'Factory reset',               20),
    ('battery_replaced',     'Cambio de batería',                'Battery replaced',            30),
    ('charging_port',        'Reparación del conector de carga', 'Charging port repaired',      40),
    ('screen_replaced',      'Cambio de pantalla',               'Screen replaced',             50),
    ('speaker_replaced',     'Cambio de altavoz o auricular',    'Speaker or earpiece replaced', 60),
    ('microphone_replaced',  'Cambio de micrófono',              'Microphone replaced',         70),
    ('sim_reader_repaired',  'Reparación del lector de SIM',     'SIM reader repaired',         80),
    ('antenna_repaired',     'Reparación de antena',             'Antenna repaired',            90),
    ('board_cleaned',        'Limpieza de placa por humedad',    'Board cleaned of moisture',  100),
    ('network_settings',     'Configuración de red (APN)',       'Network settings (APN)',     110);

-- Corrective actions are [{code?, text?}]: a catalogue item, free text, or both.
ALTER TABLE repair_orders
    ADD COLUMN diagnosis          text NOT NULL DEFAULT '' CHECK (length(diagnosis) <= 4000),
    ADD COLUMN corrective_actions jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(corrective_actions) = 'array'),
    ADD COLUMN technician_id      uuid REFERENCES users(id),
    ADD COLUMN outcome            text CHECK (outcome IN ('repaired', 'swapped')),
    ADD COLUMN certified_at       timestamptz,
    ADD CONSTRAINT repair_orders_certified CHECK ((status = 'certified') = (outcome IS NOT NULL AND certified_at IS NOT NULL));

CREATE TABLE repair_tests (
    repair_id   uuid NOT NULL REFERENCES repair_orders(id),
    code        text NOT NULL REFERENCES test_catalogue(code),
    result      text NOT NULL CHECK (result IN ('pass', 'fail', 'na')),
    note        text NOT NULL DEFAULT '' CHECK (length(note) <= 500),
    recorded_by uuid REFERENCES users(id),
    recorded_at timestamptz NOT NULL,
    PRIMARY KEY (repair_id, code)
);

-- The last number issued per centre and year. Taking the next one updates this row, so
-- concurrent certifications queue on it, and a certification that rolls back gives its
-- number back.
CREATE TABLE certificate_counters (
    centre_id uuid NOT NULL REFERENCES centres(id),
    year      integer NOT NULL CHECK (year BETWEEN 2000 AND 2999),
    last      integer NOT NULL CHECK (last BETWEEN 1 AND 999999),
    PRIMARY KEY (centre_id, year)
);

CREATE TABLE certificates (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    number            text NOT NULL UNIQUE CHECK (number ~ '^[A-Z0-9][A-Z0-9-]{0,19}-[0-9]{4}-[0-9]{6}$'),
    centre_id         uuid NOT NULL REFERENCES centres(id),
    year              integer NOT NULL CHECK (year BETWEEN 2000 AND 2999),
    seq               integer NOT NULL CHECK (seq BETWEEN 1 AND 999999),
    -- No gaps: every number but the first of its centre and year needs its predecessor.
    prev_seq          integer GENERATED ALWAYS AS (NULLIF(seq - 1, 0)) STORED,
    repair_id         uuid NOT NULL REFERENCES repair_orders(id),
    ticket_id         uuid NOT NULL REFERENCES tickets(id),
    outcome           text NOT NULL CHECK (outcome IN ('repaired', 'swapped')),
    device_model      text NOT NULL,
    verification_code text NOT NULL UNIQUE CHECK (verification_code ~ '^[0-9A-HJKMNP-TV-Z]{12}$'),
    issued_at         timestamptz NOT NULL,
    issued_by         uuid REFERENCES users(id),
    technician_name   text NOT NULL,
    pdf               bytea NOT NULL,
    pdf_sha256        text NOT NULL,
    voided_at         timestamptz,
    void_reason       text CHECK (length(void_reason) BETWEEN 1 AND 500),
    voided_by         uuid REFERENCES users(id),
    UNIQUE (centre_id, year, seq),
    FOREIGN KEY (centre_id, year, prev_seq) REFERENCES certificates(centre_id, year, seq),
    CHECK (pdf_sha256 = encode(sha256(pdf), 'hex')),
    CHECK ((voided_at IS NULL) = (void_reason IS NULL))
);
-- A repair has at most one valid certificate; a voided one may be followed by another.
CREATE UNIQUE INDEX certificates_one_valid ON certificates(repair_id) WHERE voided_at IS NULL;
CREATE INDEX certificates_ticket ON certificates(ticket_id);

-- A certificate never changes once issued and is never deleted; voiding it (once) is
-- the only change. prev_seq is left out of the comparison: a BEFORE trigger sees
-- generated columns as NULL in NEW, and it follows seq, which is compared.
-- +goose StatementBegin
CREATE FUNCTION certificates_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'certificate % cannot be deleted', OLD.number USING ERRCODE = 'check_violation', CONSTRAINT = 'certificates_immutable';
    END IF;
    IF OLD.voided_at IS NOT NULL
        OR (to_jsonb(NEW) - 'voided_at' - 'void_reason' - 'voided_by' - 'prev_seq')
            <> (to_jsonb(OLD) - 'voided_at' - 'void_reason' - 'voided_by' - 'prev_seq') THEN
        RAISE EXCEPTION 'certificate % cannot be changed', OLD.number USING ERRCODE = 'check_violation', CONSTRAINT = 'certificates_immutable';
    END IF;
    RETURN NEW;
END $$;
-- +goose StatementEnd
CREATE TRIGGER certificates_immutable BEFORE UPDATE OR DELETE ON certificates
    FOR EACH ROW EXECUTE FUNCTION certificates_immutable();

-- +goose Down
DROP TABLE certificates, certificate_counters, repair_tests;
DROP FUNCTION certificates_immutable();
ALTER TABLE repair_orders DROP CONSTRAINT repair_orders_certified,
    DROP COLUMN diagnosis, DROP COLUMN corrective_actions, DROP COLUMN technician_id,
    DROP COLUMN outcome, DROP COLUMN certified_at;
DROP TABLE corrective_action_catalogue, test_catalogue;
