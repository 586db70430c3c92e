"""The built-in metrics: every module of this package is imported here, and each registers
its metrics with ``@register_metric`` on import. A new built-in is one new module, nothing else.

Order: the keys of ``metrics/<model>.json``, the leaderboard's columns and docs/leaderboard.md's metric
table follow each module's ``ORDER`` (a number, lower first; within a module, registration
order), not the order of the imports. The built-ins run from sample quality (10) through
memorisation (20), the model-based metrics (30), the diagnostics (40) and restoration (45) to costs (50); a
new module picks a number between them. A metric whose module sets no ``ORDER`` (one
registered outside this package) comes after those that do.
"""

from genmodels.registry import import_modules

import_modules(__name__)
