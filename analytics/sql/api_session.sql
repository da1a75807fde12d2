-- The HTTP API's session guards (analytics/api.py), set once per connection: a query,
-- a lock wait and a transaction left idle (an export whose client stopped reading) are
-- ended by the server after these many milliseconds.
SELECT set_config('statement_timeout', %(statement_timeout_ms)s, false),
       set_config('lock_timeout', %(lock_timeout_ms)s, false),
       set_config('idle_in_transaction_session_timeout', %(idle_in_transaction_ms)s, false)
