"""The course's exercises: one module ``nbNN.py`` per notebook; importing this package registers them all.

Each module declares its :class:`~genserver_lite.grading.core.Exercise`
objects and their checks at import time. A new ``nbNN.py`` is picked up
without editing this file.
"""

import importlib
import pkgutil

__all__ = ["MODULES"]

MODULES = sorted(m.name for m in pkgutil.iter_modules(__path__) if m.name.startswith("nb"))

for _name in MODULES:
    importlib.import_module(f"{__name__}.{_name}")
