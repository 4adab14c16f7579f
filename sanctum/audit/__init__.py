"""The audit seam: `record()` appends to the hash-chained log in the caller's transaction."""
from sanctum.audit.service import record, verify_chain

__all__ = ["record", "verify_chain"]
