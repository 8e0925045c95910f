"""What every patch module shares: the settings, the record of what was replaced, and whether the
patches are installed in this process.

A module of its own so that each patch module imports it and nothing else of :mod:`local.moto`; the
patch modules never import one another's internals or :mod:`local.moto.install`, which imports them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

_ABSENT: Final = object()


@dataclass(frozen=True)
class LocalSettings:
    """Where the patched behaviours send things: set once per process by :func:`local.moto.installed`."""

    endpoint_url: str
    work_dir: Path
    smtp_port: int | None = None
    # SageMaker runs for real (local.moto.sagemaker; the local server sets it). Off, SageMaker stays
    # moto's recorder, which in-process tests use to script job statuses.
    run_sagemaker: bool = False


class Replacements:
    """Every change the patches make to moto, remembered so that :meth:`restore` undoes all of it."""

    def __init__(self) -> None:
        self._originals: list[tuple[Any, str, Any]] = []
        self._undo: list[Callable[[], object]] = []

    def replace(self, owner: Any, name: str, value: Any) -> Any:
        """Set ``owner.name`` to ``value``; return the original (as stored, descriptors included), or
        ``_ABSENT`` when moto does not define it (the attribute is then removed again on restore)."""
        original = vars(owner).get(name, _ABSENT)
        self._originals.append((owner, name, original))
        setattr(owner, name, value)
        return original

    def on_restore(self, undo: Callable[[], object]) -> None:
        """Have :meth:`restore` call ``undo`` once every attribute is back (latest first): for changes
        that are not attributes (a setting, a hook) and for what a patch started (a process pool)."""
        self._undo.append(undo)

    def restore(self) -> None:
        while self._originals:
            owner, name, original = self._originals.pop()
            if original is _ABSENT:
                delattr(owner, name)
            else:
                setattr(owner, name, original)
        while self._undo:
            self._undo.pop()()


_settings: LocalSettings | None = None
"""The settings of the patches installed in this process (None when they are not)."""


def current_settings() -> LocalSettings:
    """The installed settings, read when a patched behaviour runs (it may run on any thread)."""
    if _settings is None:
        raise RuntimeError("local.moto is not installed in this process")
    return _settings


@contextmanager
def settings_in_force(settings: LocalSettings) -> Iterator[None]:
    """Make ``settings`` the installed ones for the block; a second installation in the process is refused."""
    global _settings
    if _settings is not None:
        raise RuntimeError("local.moto is already installed in this process")
    _settings = settings
    try:
        yield
    finally:
        _settings = None
