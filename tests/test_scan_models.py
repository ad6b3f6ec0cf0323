"""The module ``models`` names: importing it must register every table of the metadata."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from textwrap import dedent

from aksara_cli._scan import Scan, scan

ENGINE = 'from sqlmodel import create_engine\n\nengine = create_engine("sqlite:///shop.db")\n'


def project(root: Path, files: Mapping[str, str]) -> Scan:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(dedent(text).lstrip())
    return scan(root)


def models(found: Scan) -> list[tuple[str, str]]:
    return [(f.target, f.what) for f in found.models]


def test_sqlmodel_tables_in_one_module_name_sqlmodel_there(tmp_path: Path) -> None:
    found = project(
        tmp_path,
        {
            "shop/__init__.py": "",
            "shop/db.py": ENGINE,
            "shop/schemas.py": "from sqlmodel import SQLModel\n\nclass Out(SQLModel): ...\n",
            "shop/models.py": """
                import sqlmodel


                class Hero(sqlmodel.SQLModel, table=True):
                    id: int | None = sqlmodel.Field(default=None, primary_key=True)
            """,
        },
    )

    assert models(found) == [
        ("shop.models:sqlmodel.SQLModel", "metadata of 1 SQLModel table, first")
    ]
    assert found.models[0].where == "shop/models.py:4"
    assert found.models_note is None


def test_tables_below_a_project_base_class_and_a_models_package(tmp_path: Path) -> None:
    found = project(
        tmp_path,
        {
            "shop/__init__.py": "",
            "shop/db.py": ENGINE,
            "shop/models/__init__.py": "from .item import Item\nfrom .user import User\n",
            "shop/models/base.py": """
                from sqlmodel import SQLModel


                class Base(SQLModel):
                    pass
            """,
            "shop/models/item.py": """
                from sqlmodel import Field

                from .base import Base


                class Item(Base, table=True):
                    id: int | None = Field(default=None, primary_key=True)
            """,
            "shop/models/user.py": """
                from sqlmodel import Field

                from shop.models.base import Base


                class User(Base, table=True):
                    id: int | None = Field(default=None, primary_key=True)
            """,
        },
    )

    # Importing shop.models.item runs shop/models/__init__.py first, which imports user.py.
    assert models(found) == [("shop.models.item:Base", "metadata of 2 SQLModel tables, first")]
    assert found.models_note is None


def test_table_modules_nothing_imports_together_are_named(tmp_path: Path) -> None:
    table = """
        from sqlmodel import Field, SQLModel


        class {name}(SQLModel, table=True):
            id: int | None = Field(default=None, primary_key=True)
    """
    found = project(
        tmp_path,
        {
            "shop/__init__.py": "",
            "shop/db.py": ENGINE,
            "shop/orders.py": table.format(name="Order"),
            "shop/users.py": table.format(name="User"),
        },
    )

    assert [f.target for f in found.models] == ["shop.orders:SQLModel"]
    assert found.models_note == (
        "shop.orders does not import shop.users: the tables defined there are built only if "
        "a test or conftest.py imports them"
    )


def test_a_module_importing_every_table_module_is_chosen_over_one_that_misses(
    tmp_path: Path,
) -> None:
    table = """
        from sqlalchemy.orm import Mapped, mapped_column

        from shop.db import Base


        class {name}(Base):
            __tablename__ = "{name}s"
            id: Mapped[int] = mapped_column(primary_key=True)
    """
    found = project(
        tmp_path,
        {
            "shop/__init__.py": "",
            "shop/db.py": """
                from sqlalchemy import create_engine
                from sqlalchemy.orm import DeclarativeBase, sessionmaker

                engine = create_engine("sqlite:///shop.db")
                SessionLocal = sessionmaker(bind=engine)


                class Base(DeclarativeBase):
                    pass


                class Timestamped(Base):
                    __abstract__ = True
            """,
            "shop/orders.py": table.format(name="Order"),
            "shop/users.py": table.format(name="User"),
            "shop/all_models.py": "from shop.db import Base\nfrom shop import orders, users\n",
        },
    )

    assert [f.target for f in found.models] == ["shop.all_models:Base"]
    assert found.models[0].what == "DeclarativeBase subclass at shop/db.py:8, with its 2 tables"
    assert found.models_note is None
