"""Notes admin app: FastAPI + SQLAlchemy 2 + Alembic, served by Uvicorn directly."""
