"""Staff servers (instructors, TAs): nbgrader's formgrader without the buttons that run or move student work.

Autograde would run student notebooks outside the sandbox as the staff member's own OS user, Generate and
Release feedback would hand out nbgrader's feedback instead of ours, and Collect would believe the students'
timestamps. Those API calls (the formgrader's buttons use nothing else) answer 403 and point to the course
dashboard, whose Release and Grade now run our collect and the sandboxed grader. Browsing submissions, manual
grading and comments work as before.
"""

import json

from nbgrader.server_extensions.formgrader import apihandlers

c = get_config()  # noqa: F821

ROUTED = ("AssignHandler", "UnReleaseHandler", "ReleaseHandler", "CollectHandler", "AutogradeHandler",
          "GenerateAllFeedbackHandler", "ReleaseAllFeedbackHandler", "GenerateFeedbackHandler",
          "ReleaseFeedbackHandler")


MESSAGE = ("Release, collect, autograde and feedback run in the course's sandboxed grader: use Release / Grade "
           "now on the course dashboard (/services/dashboard/), or `course release` / `course collect`.")


def _use_the_dashboard(self, *args, **kwargs):
    self.set_status(403)
    self.set_header("Content-Type", "application/json")
    self.finish(json.dumps({"success": False, "error": MESSAGE, "log": MESSAGE}))


for _name in ROUTED:
    getattr(apihandlers, _name).post = _use_the_dashboard
