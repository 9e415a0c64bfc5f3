"""Task families, each registered by name; importing this package registers them all."""
from core.engine.families.base import FAMILIES, TaskFamily, make_family, register_family

# Registration order is the order the CLI and dashboard list the families in.
from core.engine.families import sinusoid  # noqa: E402,F401  isort:skip
from core.engine.families import trend  # noqa: E402,F401  isort:skip
from core.engine.families import clusters  # noqa: E402,F401  isort:skip
from core.engine.families import omniglot  # noqa: E402,F401  isort:skip
from core.engine.families import digits  # noqa: E402,F401  isort:skip

__all__ = ["FAMILIES", "TaskFamily", "make_family", "register_family"]
