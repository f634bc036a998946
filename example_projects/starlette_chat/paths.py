"""Where the chat page shared by the three examples lives."""

from pathlib import Path

PAGE_DIR = Path(__file__).resolve().parent.parent / "chat_page"
INDEX = PAGE_DIR / "index.html"
DASHBOARD = PAGE_DIR / "dashboard.html"
