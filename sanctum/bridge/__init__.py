"""The Broca web-chat bridge protocol, served at `/api/v1/?action=…` (see routes.py)."""
