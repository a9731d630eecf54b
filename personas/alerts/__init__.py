"""Alerts: conditions found in the database, kept as messages in PostgreSQL and delivered
to the webhooks operators register, signed as the Standard Webhooks specification says.

`python -m personas.alerts` (the Procfile's `alerts`) looks for the conditions and
delivers; the admin routes (personas.webhooks) register webhooks and send tests.
"""
