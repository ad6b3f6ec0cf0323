"""Posts.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _new_id() -> sa.TextClause:
    """A random 32-hex-digit id for rows inserted by plain SQL."""
    if op.get_bind().dialect.name == "postgresql":
        return sa.text("md5(random()::text || clock_timestamp()::text)")
    return sa.text("(lower(hex(randomblob(16))))")


def upgrade() -> None:
    op.create_table(
        "posts",
        sa.Column("id", sa.String(36), primary_key=True, server_default=_new_id()),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("content", sa.Text(), nullable=False, server_default=""),
        sa.Column("is_published", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.func.current_timestamp(),
        ),
        sa.Column("author_id", sa.String(36), sa.ForeignKey("users.id"), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("posts")
