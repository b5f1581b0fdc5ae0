-- V2 token encryption: third-party API tokens of users, encrypted at rest by the vault.
CREATE TABLE user_tokens (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider   text NOT NULL CHECK (provider IN ('github', 'openai', 'anthropic', 'gemini')),
    ciphertext bytea NOT NULL,
    nonce      bytea,
    key_id     bigint NOT NULL,
    scheme     text NOT NULL DEFAULT 'tink-aes256-gcm' CHECK (scheme IN ('tink-aes256-gcm', 'legacy-aes256-cbc')),
    created_at timestamptz NOT NULL DEFAULT now(),
    rotated_at timestamptz,
    UNIQUE (user_id, provider)
);
COMMENT ON TABLE user_tokens IS
    'Users'' provider API tokens, encrypted. New rows use Tink AEAD (AES-256-GCM); rows adopted from the older '
    'system keep AES-256-CBC until the vault rotates them.';
COMMENT ON COLUMN user_tokens.nonce IS
    'IV of legacy AES-CBC rows; NULL for Tink AEAD rows (the nonce is inside the ciphertext).';
COMMENT ON COLUMN user_tokens.key_id IS 'Tink key id that encrypted the row; 0 for legacy rows.';
-- Key rotation looks up every row still encrypted under a retired key.
CREATE INDEX user_tokens_key_id_idx ON user_tokens (key_id);
