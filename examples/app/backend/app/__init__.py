"""Example FastAPI back end for the fullstack.webapp Ansible collection."""
