"""The persona runner: clients for the personas API and mana-auth, the password recipe,
drivers and the reference tick loop. It imports nothing of the service it talks to."""
