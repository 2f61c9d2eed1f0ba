"""Stage 4, render: a Plan -> ``{relative path: file text}``. Pure: no I/O but reading templates.

Each target (router generation) is one module of this package with a ``render(plan, options,
templates)`` function, and one folder of templates; ``TARGETS`` names them. Adding a target is
one module, one template folder and one line here. What every target shares is in ``common.py``
(the context, node preparation, manifests in apply order), the Jinja set-up and the escaping
filters in ``templates.py`` and ``escape.py``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jcnrc.plan.planner import Plan
    from jcnrc.render.common import RenderOptions

# target name -> the module that renders it. Imported only when used: a build renders one target.
TARGETS: dict[str, str] = {
    "platter": "jcnrc.render.platter",
    "jcnr": "jcnrc.render.jcnr",
}


def render(plan: Plan, options: RenderOptions | None = None) -> dict[str, str]:
    """Every file of the build of `plan`, keyed by its path relative to the output folder."""
    from jcnrc.render.common import RenderOptions
    from jcnrc.render.templates import Templates

    options = options or RenderOptions()
    backend = importlib.import_module(TARGETS[plan.target])
    return backend.render(plan, options, Templates(options.templates))
