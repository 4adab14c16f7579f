from sanctum.ops.routes import bp

__all__ = ["bp"]
