"""How the studio is served: on localhost unless told otherwise, with a stated upload limit."""

import tomllib
from pathlib import Path

CONFIG = Path(__file__).resolve().parent.parent / ".streamlit" / "config.toml"


def test_the_studio_listens_on_localhost_and_caps_uploads():
    server = tomllib.loads(CONFIG.read_text())["server"]
    assert server["address"] == "127.0.0.1"  # was every interface, without authentication
    assert 0 < server["maxUploadSize"] <= 200
