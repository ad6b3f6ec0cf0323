"""The tables (SQLModel, table=True) and the request/response shapes."""

from sqlmodel import Field, Relationship, SQLModel


class User(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(unique=True, index=True, max_length=255)
    hashed_password: str
    todos: list["Todo"] = Relationship(back_populates="owner", cascade_delete=True)


class Todo(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(max_length=255)
    done: bool = False
    owner_id: int = Field(foreign_key="user.id", ondelete="CASCADE")
    owner: User | None = Relationship(back_populates="todos")


class UserCreate(SQLModel):
    email: str
    password: str


class UserPublic(SQLModel):
    id: int
    email: str


class Token(SQLModel):
    access_token: str
    token_type: str = "bearer"


class TodoCreate(SQLModel):
    title: str


class TodoUpdate(SQLModel):
    title: str | None = None
    done: bool | None = None


class TodoPublic(SQLModel):
    id: int
    title: str
    done: bool
    owner_id: int
