"""Every course user's Jupyter server (read through JUPYTER_CONFIG_PATH, set by jupyterhub_config.py)."""

c = get_config()  # noqa: F821

# JupyterHub's single-user extension sends `frame-ancestors 'none'`; Lab's Formgrader panel is an <iframe> of
# the same server, so allow framing by the server itself (see ../shared notes, hub.md §6).
c.ServerApp.tornado_settings = {"headers": {"Content-Security-Policy": "frame-ancestors 'self'"}}

# Lab settings defaults for the course: a "Course" menu with a link to the course dashboard (lab-settings/).
import os  # noqa: E402

c.LabApp.app_settings_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "lab-settings")
