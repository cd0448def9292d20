"""Decorators shared by the Robot keyword modules: metersim errors reach Robot as their
message alone (Renode's KeywordException), and keywords that change the emulation are
recorded so `Provides` / `Requires` can replay them."""

from __future__ import annotations

import functools

from metersim._errors import MetersimError

__all__ = ["KeywordError", "_errors", "_recorded"]


class KeywordError(MetersimError):
    """A keyword failed; Robot shows the message alone, as Renode's KeywordException."""

    ROBOT_SUPPRESS_NAME = True


def _errors(method):
    """metersim errors reach Robot as their message, without the exception class name."""
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except MetersimError as exc:
            if getattr(exc, "ROBOT_SUPPRESS_NAME", False):
                raise
            raise KeywordError(str(exc)) from exc
    return wrapper


def _recorded(method):
    """Keywords that change the emulation are remembered so `Provides` can replay them."""
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        # Failed steps count too: a wait that timed out still ran the emulation.
        failed = True
        try:
            result = method(self, *args, **kwargs)
            failed = False
            return result
        finally:
            self._recipe.append((method.__name__, args, kwargs, failed))
    return _errors(wrapper)
