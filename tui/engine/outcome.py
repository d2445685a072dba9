"""How one piece of paid work (a job or a cross-check) ended, with cancellation sorted out once.

A user's cancel, a stop of the whole engine and a failure look alike from inside (a
CancelledError, or an AsrError(CANCELED) from the pipeline); the runner and the cross-checks
both need them told apart the same way.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from tui.errors import AsrError, ErrorKind

T = TypeVar("T")


@dataclass(frozen=True)
class Outcome(Generic[T]):
    value: T | None = None
    error: Exception | None = None
    canceled: bool = False  # by the user: the work is dropped, the engine carries on


async def attempt(
    work: Awaitable[T], *, cancel: asyncio.Event, user_canceled: Callable[[], bool]
) -> Outcome[T]:
    """Await ``work``. A stop of the engine (a CancelledError the user did not ask for) is
    re-raised for the caller to put the work back; everything else becomes an Outcome."""
    try:
        value = await work
    except asyncio.CancelledError:
        if not user_canceled():
            raise
        if (me := asyncio.current_task()) is not None:
            me.uncancel()
        return Outcome(canceled=True)
    except Exception as exc:  # one bad file fails only its own work
        asked = isinstance(exc, AsrError) and exc.kind is ErrorKind.CANCELED and cancel.is_set()
        if user_canceled() or asked:
            return Outcome(canceled=True)
        return Outcome(error=exc)
    if user_canceled():
        return Outcome(canceled=True)
    return Outcome(value=value)
