"""Request plumbing shared by every blueprint: access markers, rendering, ids, headers, errors."""
