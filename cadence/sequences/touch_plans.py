"""The one place next-step planning becomes a touch row: enrollment, progress after a send
or a task, and the worker's record all insert what :func:`next_touch` plans."""

from datetime import datetime
from typing import Any

from sqlalchemy import insert

from cadence.core.domain import (
    CadenceDefinition,
    TouchStatus,
)
from cadence.core.planning import plan_next_step
from cadence.store.models import (
    TOUCHES,
)
from cadence.store.rows import (
    ProspectView,
)

#: Inserts :func:`next_touch`'s columns, one row or a batch (executemany).
INSERT_TOUCH = insert(TOUCHES)


def next_touch(
    cadence: CadenceDefinition,
    *,
    enrollment_id: int,
    prospect: ProspectView,
    done_step: int,
    anchor: datetime,
) -> dict[str, Any] | None:
    """The columns of the touch of the step after ``done_step``, due counted from
    ``anchor``; None after the last step. Columns, not a Touch: a worker inserts a batch of
    them with one executemany."""
    planned = plan_next_step(
        cadence,
        variant_key=str(enrollment_id),
        prospect=prospect,
        done_step=done_step,
        anchor=anchor,
    )
    if planned is None:
        return None
    assert prospect.id is not None
    return {
        "enrollment_id": enrollment_id,
        "prospect_id": prospect.id,
        "step": planned.step.number,
        "channel": planned.step.channel.value,
        "template": planned.template,
        "due_at": planned.due_at,
        "status": TouchStatus.SCHEDULED.value,
        "attempts": 0,
        "enqueues": 0,
    }
