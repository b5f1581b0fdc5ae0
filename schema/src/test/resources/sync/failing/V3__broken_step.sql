-- Test migration: valid statements, then an error. All of it must roll back.
CREATE TABLE broken_step (id integer PRIMARY KEY);
INSERT INTO accounts (id, email) VALUES ('00000000-0000-0000-0000-000000000002', 'second@example.com');
ALTER TABLE accounts ADD COLUMN nickname text;
SELECT 1 / 0;
