-- authflow install script, assembled from sql/state/*.sql and sql/src/*.sql (see sql/README.md).
\echo Use "CREATE EXTENSION authflow" to load this file. \quit

-- The extension creates and owns schema authflow, so DROP EXTENSION removes it.
-- Nothing in it is reachable by PUBLIC unless granted below, function by function.
CREATE SCHEMA authflow;
REVOKE ALL ON SCHEMA authflow FROM PUBLIC;
GRANT USAGE ON SCHEMA authflow TO PUBLIC;
