-- Apex triggers are switched by a Metadata API deploy, which runs on Salesforce's side for
-- seconds to minutes. The engine records the deploy's id on every trigger row it covers before
-- it starts polling, so that after a crash the outcome is read from that deploy instead of
-- deploying again blindly. NULL for every other kind, and for a trigger row whose deploy has
-- not been started yet.
ALTER TABLE journal ADD COLUMN deploy_id TEXT CHECK (deploy_id IS NULL OR deploy_id <> '');
