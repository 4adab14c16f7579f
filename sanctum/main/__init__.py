from sanctum.main.routes import bp

__all__ = ["bp"]
