"""One's own account pages: profile, email, password, sessions."""
