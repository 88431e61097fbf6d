"""A PostgreSQL streaming replica for read-heavy public reads (docs/scaling.md).

Switched on by the DATABASE_REPLICA_URL setting, which adds the `replica` alias and this router.
Only the reads that may be a moment behind ask for the replica, through `read_alias()`: the public
map GeoJSON, vector tiles and event search. Everything else reads the primary (a user must see
what they just wrote), and the router keeps every write, and every migration, on the primary, even
for an object that was read from the replica.
"""

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS

REPLICA = "replica"


def read_alias() -> str:
    """The alias for map, tile and search reads: `replica` when one is configured."""
    return REPLICA if REPLICA in settings.DATABASES else DEFAULT_DB_ALIAS


class PrimaryReplicaRouter:
    """Writes and migrations on the primary; reads where the query asked (`.using()`), else on
    the primary; objects from either alias may be related (they hold the same data)."""

    def db_for_read(self, model, **hints):
        instance = hints.get("instance")
        if instance is not None and instance._state.db == REPLICA:
            return REPLICA  # related objects of a replica read come from the replica too
        return DEFAULT_DB_ALIAS

    def db_for_write(self, model, **hints):
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1, obj2, **hints):
        aliases = {DEFAULT_DB_ALIAS, REPLICA}
        if obj1._state.db in aliases and obj2._state.db in aliases:
            return True
        return None

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == DEFAULT_DB_ALIAS
