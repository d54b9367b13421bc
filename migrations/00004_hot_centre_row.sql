-- +goose Up
-- Every booking inserted an appointment and an audit entry, each with a foreign key to
-- the centre: each took a KEY SHARE lock on the same centre row, and concurrent
-- bookings turned that into a new multixact per booking. The appointment's centre is
-- already guaranteed by its foreign key to the slot (whose own key references the
-- centre), and the audit log must never be what blocks a change; both direct keys go.
ALTER TABLE appointments DROP CONSTRAINT appointments_centre_id_fkey;
ALTER TABLE audit_log DROP CONSTRAINT audit_log_centre_id_fkey;

-- +goose Down
ALTER TABLE audit_log ADD CONSTRAINT audit_log_centre_id_fkey FOREIGN KEY (centre_id) REFERENCES centres(id);
ALTER TABLE appointments ADD CONSTRAINT appointments_centre_id_fkey FOREIGN KEY (centre_id) REFERENCES centres(id);
