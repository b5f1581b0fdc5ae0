-- Test migration: applied, then its file is removed, to show up as a missing file.
CREATE TABLE referrals (referrer uuid NOT NULL, referred uuid PRIMARY KEY);
