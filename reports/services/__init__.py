"""Write entry points of the reports app, by concern (each module says what it holds):

- `lifecycle`: submission (`report_create`), status changes, confirmation, reopening;
- `photos`: storing, processing and checking photos;
- `moderation`: what the public sees, public flags;
- `privacy`: retention and the resident's own data;
- `reroute`: re-routing, place names, the public point after a change;
- `base`: what they share (messages, status table, audit trail, flags).

Every public name stays importable from `reports.services`.
"""

from reports.services.base import *  # noqa: F403
from reports.services.lifecycle import *  # noqa: F403
from reports.services.moderation import *  # noqa: F403
from reports.services.photos import *  # noqa: F403
from reports.services.privacy import *  # noqa: F403
from reports.services.reroute import *  # noqa: F403
