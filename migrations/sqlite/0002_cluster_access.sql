-- Where a cluster runs, and how the console reaches it: an access token
-- (sealed with the console's secret key, never stored in the clear) and
-- the PEM certificate of a private CA.
ALTER TABLE clusters ADD COLUMN region TEXT NOT NULL DEFAULT '';
ALTER TABLE clusters ADD COLUMN access_token_sealed TEXT;
ALTER TABLE clusters ADD COLUMN ca_certificate TEXT;
