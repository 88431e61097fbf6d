"""Keep `reports_reportcount` exact: statement triggers on `reports_report` add what each
statement inserted and subtract what it deleted (an update is both), per status and moderation,
in the statement's own transaction; a truncate empties the counts.

Statement-level with transition tables, so a bulk load of millions of rows costs one
aggregate, not a trigger call per row. Only keys whose count changes are written (an update
that touches neither status nor moderation writes nothing, and so takes no lock on a count).
The initial counts are filled in the same migration, after the triggers exist: the triggers'
table lock keeps writers out until the fill is committed, so no row is counted twice or
missed."""

from django.db import migrations

def _function(name: str, changes: str) -> str:
    """A trigger function adding the `changes` (rows of status, moderation, n) to the counts.
    A transition table exists only for the events that have it, hence one function per event."""
    return f"""
CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO reports_reportcount (status, moderation, count)
    SELECT d.status, d.moderation, sum(d.n)
    FROM ({changes}) AS d (status, moderation, n)
    GROUP BY d.status, d.moderation
    HAVING sum(d.n) <> 0
    ORDER BY d.status, d.moderation
    ON CONFLICT (status, moderation)
    DO UPDATE SET count = reports_reportcount.count + EXCLUDED.count;
    RETURN NULL;
END
$$;
"""


ADDED = "SELECT status, moderation, 1 FROM new_rows"
REMOVED = "SELECT status, moderation, -1 FROM old_rows"

FUNCTIONS = (
    _function("reports_report_count_insert", ADDED)
    + _function("reports_report_count_update", f"{ADDED} UNION ALL {REMOVED}")
    + _function("reports_report_count_delete", REMOVED)
    + """
CREATE FUNCTION reports_report_count_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM reports_reportcount;
    RETURN NULL;
END
$$;
"""
)

FORWARD = f"""
{FUNCTIONS}
CREATE TRIGGER reports_report_count_insert AFTER INSERT ON reports_report
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION reports_report_count_insert();
CREATE TRIGGER reports_report_count_update AFTER UPDATE ON reports_report
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION reports_report_count_update();
CREATE TRIGGER reports_report_count_delete AFTER DELETE ON reports_report
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION reports_report_count_delete();
CREATE TRIGGER reports_report_count_truncate AFTER TRUNCATE ON reports_report
    FOR EACH STATEMENT EXECUTE FUNCTION reports_report_count_truncate();
DELETE FROM reports_reportcount;
INSERT INTO reports_reportcount (status, moderation, count)
SELECT status, moderation, count(*) FROM reports_report GROUP BY status, moderation;
"""

BACKWARD = """
DROP TRIGGER IF EXISTS reports_report_count_insert ON reports_report;
DROP TRIGGER IF EXISTS reports_report_count_update ON reports_report;
DROP TRIGGER IF EXISTS reports_report_count_delete ON reports_report;
DROP TRIGGER IF EXISTS reports_report_count_truncate ON reports_report;
DROP FUNCTION IF EXISTS reports_report_count_insert();
DROP FUNCTION IF EXISTS reports_report_count_update();
DROP FUNCTION IF EXISTS reports_report_count_delete();
DROP FUNCTION IF EXISTS reports_report_count_truncate();
"""


class Migration(migrations.Migration):
    dependencies = [("reports", "0010_report_public_cleared_idx")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
