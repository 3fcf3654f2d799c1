"""The web process: Streamlit serving Home.py, beside the routes that set its HttpOnly cookies.

Start it with `streamlit run web.py`: Streamlit finds the `st.App` below and serves both with
uvicorn (`ui/cookies.py` says why the cookies need routes of their own). The settings are
validated first, so a bad configuration stops the process with its message before it serves.
"""

import sys

from streamlit.starlette import App

from core.config import get_settings
from core.errors import ConfigError
from core.logs import configure_logging
from ui import cookies

try:
    settings = get_settings()
except ConfigError as exc:
    sys.exit(f"web: {exc}")
configure_logging(settings.log_level, as_json=settings.log_json)  # page errors, with their ids

app = App("Home.py", routes=cookies.routes())
