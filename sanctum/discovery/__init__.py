"""User discovery from Broca databases: who talks to the agents but has no account here yet."""
from sanctum.discovery import privacy as _privacy  # noqa: F401  (registers the export section and eraser)
