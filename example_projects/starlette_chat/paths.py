"""Where the chat page shared by the three examples lives: in the package (firsttoken.console)."""

from firsttoken.console import STATIC_DIR

PAGE_DIR = STATIC_DIR
INDEX = PAGE_DIR / "index.html"
DASHBOARD = PAGE_DIR / "dashboard.html"
