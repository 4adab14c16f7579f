"""Tool cards: the registry page (tabs by category), manifests, and the rules in service.py."""
