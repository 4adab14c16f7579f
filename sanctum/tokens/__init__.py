"""Personal API tokens and API sessions with rotating refresh tokens."""
