"""Posts get a slug, filled from their titles.

Revision ID: 0003
Revises: 0002
"""

import re

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def slugify(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


def upgrade() -> None:
    op.add_column("posts", sa.Column("slug", sa.String(220), nullable=True))
    posts = sa.table("posts", sa.column("id"), sa.column("title"), sa.column("slug"))
    bind = op.get_bind()
    for post_id, title in bind.execute(sa.select(posts.c.id, posts.c.title)).all():
        bind.execute(posts.update().where(posts.c.id == post_id).values(slug=slugify(title)))
    with op.batch_alter_table("posts") as batch:
        batch.alter_column("slug", existing_type=sa.String(220), nullable=False, server_default="")


def downgrade() -> None:
    with op.batch_alter_table("posts") as batch:
        batch.drop_column("slug")
