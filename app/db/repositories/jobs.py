"""The periodic jobs' latest passes (`job_runs`): one pass per interval, whichever process."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.dialects import postgresql, sqlite

from app.db.engine import SessionFactory
from app.db.models import JobRun, utcnow


class JobRunRepository:
    def __init__(self, *, sessions: SessionFactory) -> None:
        self._sessions = sessions

    async def claim(self, name: str, *, not_since: timedelta) -> bool:
        """Record that a pass of the job starts now, unless one started less than `not_since`
        ago (in any process); whether this caller got the pass. One statement: two processes
        asking at once cannot both get it."""
        now = utcnow()
        async with self._sessions() as session:
            insert = (
                postgresql.insert(JobRun)
                if session.get_bind().dialect.name == "postgresql"
                else sqlite.insert(JobRun)
            )
            table = JobRun.__table__  # type: ignore[attr-defined]
            statement = (
                insert.values(name=name, started_at=now, passes=1)
                .on_conflict_do_update(
                    index_elements=[table.c.name],
                    set_={"started_at": now, "passes": table.c.passes + 1},
                    where=table.c.started_at <= now - not_since,
                )
                .returning(table.c.name)
            )
            claimed = (await session.exec(statement)).first() is not None
            await session.commit()
        return claimed
