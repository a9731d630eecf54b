"""Development tooling: a throwaway PostgreSQL, the local process stack. Never used in production."""
