"""The `sanctum` console script: a FlaskGroup, so every `flask` command works too."""
from __future__ import annotations

from flask.cli import FlaskGroup

from sanctum import create_app


def _create_app():
    return create_app()


main = FlaskGroup(create_app=_create_app, help="Sanctum, a control panel for AI agents and their tools.")


if __name__ == "__main__":
    main()
