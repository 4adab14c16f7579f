"""One helper decides page or partial, as in Hypermedia Systems' contact-app."""
from __future__ import annotations

from flask import make_response, render_template, request, session
from werkzeug.wrappers import Response


def wants_partial() -> bool:
    """An htmx request that swaps part of the page (not boosted, not a history restore)."""
    headers = request.headers
    return (
        headers.get("HX-Request") == "true"
        and headers.get("HX-Boosted") != "true"
        and headers.get("HX-History-Restore-Request") != "true"
    )


def render(page: str, partial: str, /, status: int = 200, **context) -> Response:
    """Render the full page, or only its partial for htmx. The page includes the partial.

    `page` and `partial` are positional-only so that a template may take `page` (a page
    number) in its context.
    """
    if wants_partial():
        body = render_template(partial, **context)
        if session.get("_flashes"):
            # Messages flashed by this request ride along as an out-of-band swap.
            body += render_template("_flashes.html", oob=True)
    else:
        body = render_template(page, **context)
    response = make_response(body, status)
    response.vary.add("HX-Request")
    return response


def wants_json() -> bool:
    if request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]
