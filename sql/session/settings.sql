-- name: apply_transaction_settings^
-- Behind a transaction pooler the server session is whichever PgBouncer hands out
-- next, so startup options are refused and a session-wide SET would leak to other
-- clients: the settings our queries rely on hold for this transaction only.
SELECT set_config('timezone', :timezone, true),
       set_config('jit', :jit, true),
       set_config('statement_timeout', :statement_timeout, true)
