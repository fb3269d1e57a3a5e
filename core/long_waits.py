"""Views that wait long (event streams, ``Prefer: wait``) and the ASGI handler that serves
them without a thread each.

Django's ASGI handler gives every request a thread of its own for its sync parts (middleware,
signals) that lives as long as the request: a thread per open stream. A view marked with
``long_wait`` (its predicate says, from the ASGI scope, whether this request will wait) is
served by ``LongWaitASGIHandler`` without that per-request thread: its middleware's sync
parts share asgiref's one thread (they are quick and use no database), and the view does its
database work in short units (``core.db_units``)."""

from __future__ import annotations

from collections.abc import Callable

from django.core.handlers.asgi import ASGIHandler
from django.urls import Resolver404, resolve

Scope = dict
LONG_WAIT_ATTRIBUTE = "long_wait"


def always(scope: Scope) -> bool:
    return True


def long_wait(view: Callable, when: Callable[[Scope], bool] = always) -> Callable:
    """Mark an async ``view`` as one that waits long when ``when(scope)`` is true."""
    setattr(view, LONG_WAIT_ATTRIBUTE, when)
    return view


def is_long_wait(scope: Scope) -> bool:
    """Whether the request of this HTTP scope goes to a view that will wait long."""
    path = scope["path"]
    root = scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :]
    try:
        match = resolve(path)
    except Resolver404:
        return False
    when = getattr(match.func, LONG_WAIT_ATTRIBUTE, None)
    return bool(when and when(scope))


class LongWaitASGIHandler(ASGIHandler):
    """Django's ASGI handler; requests for a long-wait view are handled outside the
    per-request thread-sensitive context (see the module docstring)."""

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and is_long_wait(scope):
            await self.handle(scope, receive, send)
            return
        await super().__call__(scope, receive, send)
