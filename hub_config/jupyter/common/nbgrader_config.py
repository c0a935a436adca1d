"""nbgrader for every course user: the course id and exchange from the hub's environment.

Instructors and TAs also get the shared course directory (group-owned by <course>-staff) for the formgrader.
"""

import os

c = get_config()  # noqa: F821

c.CourseDirectory.course_id = os.environ.get("NBGRADER_COURSE_ID", "aiml101")
c.Exchange.root = os.environ.get("NBGRADER_EXCHANGE", "/srv/aiml-course/aiml101/exchange")
if os.environ.get("AIML_NBGRADER_COURSE_DIR"):
    # `course roster` links ~/<course id> to the shared directory: the formgrader needs it under the server root
    link = os.path.join(os.path.expanduser("~"), c.CourseDirectory.course_id)
    c.CourseDirectory.root = link if os.path.islink(link) else os.environ["AIML_NBGRADER_COURSE_DIR"]
if os.environ.get("NBGRADER_HUB_AUTH"):  # only inside hub servers: membership from hub groups
    from nbgrader.auth import JupyterHubAuthPlugin

    c.Authenticator.plugin_class = JupyterHubAuthPlugin
