"""The app's engine and sessionmaker, as in FastAPI's SQL tutorial (the classic sync shape)."""

from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

DATABASE_URL = "@DATABASE_URL@"

engine = create_engine(DATABASE_URL)
SessionLocal = sessionmaker(autocommit=False, autoflush=False, bind=engine)
