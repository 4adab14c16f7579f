"""User administration: the list, one user's page, bulk actions, and the users API."""
