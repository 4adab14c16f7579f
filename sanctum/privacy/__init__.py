"""Data rights: export everything held about a person, and erase an account."""
