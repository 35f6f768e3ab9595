-- Credentials revoked or closed, by the record that ended each (filled from the
-- entries already logged by fill_credential_ends).
CREATE TABLE credential_ends (credential bytea PRIMARY KEY,
                              ending smallint NOT NULL, idx bigint NOT NULL);
