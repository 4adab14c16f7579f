"""Announcements: banners for everyone or for some roles, between a start and an optional end,
dismissible per user (except critical ones), pushed live to open pages on `announcements`."""
CHANNEL = "announcements"
