-- TEST-ONLY copy of the user_tokens table that migration V2 on main creates (issue 9 tests run
-- against it until the branches merge; then this location goes and tests use db/migration only).
CREATE TABLE user_tokens (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    provider   text NOT NULL CHECK (provider IN ('github', 'openai', 'anthropic', 'gemini')),
    ciphertext bytea NOT NULL,
    nonce      bytea,
    key_id     bigint NOT NULL,
    scheme     text NOT NULL DEFAULT 'tink-aes256-gcm' CHECK (scheme IN ('tink-aes256-gcm', 'legacy-aes256-cbc')),
    created_at timestamptz NOT NULL DEFAULT now(),
    rotated_at timestamptz,
    UNIQUE (user_id, provider)
);
CREATE INDEX user_tokens_key_id_idx ON user_tokens (key_id);
