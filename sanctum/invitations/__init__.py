"""Invitations: invite people one by one or from a CSV list; they accept by the mailed link."""
from sanctum.invitations import privacy as _privacy  # noqa: F401  (registers the export section and eraser)
