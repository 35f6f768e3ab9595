-- Log tables and the sequencer lease.
CREATE TABLE meta (name text PRIMARY KEY, value bytea NOT NULL);
CREATE TABLE entries (idx bigint PRIMARY KEY, leaf_hash bytea NOT NULL UNIQUE, data bytea NOT NULL);
CREATE TABLE nodes (level smallint NOT NULL, idx bigint NOT NULL, hash bytea NOT NULL, PRIMARY KEY (level, idx));
CREATE TABLE checkpoints (size bigint PRIMARY KEY, note text NOT NULL);
CREATE TABLE published (size bigint PRIMARY KEY, note text NOT NULL);
CREATE TABLE anchors (size bigint PRIMARY KEY, gen_time bigint NOT NULL, der bytea NOT NULL);
CREATE TABLE submissions (id bytea PRIMARY KEY, idx bigint NOT NULL, leaf_hash bytea NOT NULL);
CREATE TABLE head (one boolean PRIMARY KEY DEFAULT true CHECK (one), size bigint NOT NULL);
CREATE TABLE leader (one boolean PRIMARY KEY DEFAULT true CHECK (one), term bigint NOT NULL,
                     holder text NOT NULL, address text NOT NULL, expires_at timestamptz NOT NULL);
