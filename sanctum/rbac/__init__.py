"""Roles, permissions and grants: who may do what."""
