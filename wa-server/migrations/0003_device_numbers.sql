-- A stable integer number per device, for contracts that name devices by number (SatuApps'
-- `/api/wa/{device_id}/…` and its webhook bodies). Numbers come from the `devices` counter
-- inside the insert transaction, so they are unique and never reused after a deletion.
ALTER TABLE devices ADD COLUMN number BIGINT;
-- Existing devices are numbered 1, 2, … in creation order.
UPDATE devices SET number = (SELECT COUNT(*) FROM devices d2 WHERE d2.created_at < devices.created_at OR (d2.created_at = devices.created_at AND d2.id <= devices.id));
CREATE UNIQUE INDEX devices_number ON devices (number);
INSERT INTO counters (name, value) SELECT 'devices', COALESCE(MAX(number), 0) FROM devices
