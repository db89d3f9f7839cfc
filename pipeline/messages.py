"""Small helpers for the sentences mtpipe prints: counts of things, and the reason an
exception gives in a few words. Pure; every stage may use them."""

from __future__ import annotations


def counted(n: int, noun: str) -> str:
    """`n` and the noun, plural but for one: "1 article", "3 articles"."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def first_line(exc: BaseException) -> str:
    """Why an exception happened, in a few words: the system's reason for an OSError
    (a URLError's too), else the first line of its message (libraries such as Ray put
    whole remote tracebacks there), else its type's name."""
    cause = getattr(exc, "reason", exc)  # urllib's URLError wraps the socket's error
    if isinstance(cause, OSError) and cause.strerror:
        return cause.strerror
    lines = [line.strip() for line in str(cause).splitlines() if line.strip()]
    return lines[0].rstrip(".") if lines else type(exc).__name__
