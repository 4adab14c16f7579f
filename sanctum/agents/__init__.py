"""Agents: the registry pages, providers, and the rules in service.py."""
