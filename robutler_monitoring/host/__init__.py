"""The `robutler` command: a small plugin host built on Typer, pluggy and uvicorn."""
