-- V1 initial setup: users, sessions, product analytics.
CREATE TABLE users (
    id           uuid PRIMARY KEY,
    email        text UNIQUE,
    display_name text,
    plan         text NOT NULL DEFAULT 'free',
    is_admin     boolean NOT NULL DEFAULT false,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
