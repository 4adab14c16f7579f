"""Accounts: setup, sign-in, server-side sessions, passwords, verification and reset."""
