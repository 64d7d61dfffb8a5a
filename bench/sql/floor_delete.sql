-- The delete floor: a primary-key delete of one existing session-shaped row (keys md5('d' || n),
-- n from an unlogged sequence, read once by the subquery; the rows are added before the cell).
DELETE FROM bench_floor WHERE session_id = (SELECT md5('d' || nextval('bench_floor_deleted'))::uuid);
