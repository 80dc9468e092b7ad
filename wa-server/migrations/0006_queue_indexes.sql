-- Indexes that keep each queue step independent of the backlog's size. A device worker asks
-- for its next message in (priority, created_at, id) order and, while offline, for expired
-- and soonest-expiring messages. With only (device_id, status, priority, next_attempt_at)
-- both read every queued row of the device, so a backlog of N cost O(N) per step.
CREATE INDEX messages_queue_order ON messages (device_id, status, priority, created_at, id);
CREATE INDEX messages_queue_expiry ON messages (device_id, status, expires_at);
-- Superseded by messages_queue_order (same leading columns).
DROP INDEX messages_queue;
