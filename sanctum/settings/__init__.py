"""Run-time settings: a registry of known keys with defaults, overridable in the database."""
