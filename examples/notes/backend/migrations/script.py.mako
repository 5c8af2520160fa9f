<%!
def q(value):
    """A revision (or None, or a tuple of them) as Python source, in double quotes."""
    if value is None:
        return "None"
    if isinstance(value, str):
        return '"%s"' % value
    return "(%s,)" % ", ".join('"%s"' % item for item in value)
%>"""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
Create Date: ${create_date}
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
${imports if imports else ""}
revision: str = ${q(up_revision)}
down_revision: str | tuple[str, ...] | None = ${q(down_revision)}
branch_labels: str | tuple[str, ...] | None = ${q(branch_labels)}
depends_on: str | tuple[str, ...] | None = ${q(depends_on)}


def upgrade() -> None:
    ${upgrades if upgrades else "pass"}


def downgrade() -> None:
    ${downgrades if downgrades else "pass"}
