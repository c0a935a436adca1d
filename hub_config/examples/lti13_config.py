"""jupyterhub_config.py fragment: people come to the hub from the LMS (Canvas, Moodle, Blackboard...) with LTI 1.3.

jupyterhub-ltiauthenticator's LTI13Authenticator (1.6, in the z2jh hub image) checks the platform's signed
launch. The post_auth_hook below turns the launch's course context and LTI roles into the course's hub groups:
students / tas / instructors, cohort-<name>, nbgrader-<course> and formgrade-<course>, the names
`course roster` uses (aiml_course.hub.roster.hub_groups), so the hub roles apply (z2jh-values.yaml). Anyone
whose launch carries no course role, or comes from an LMS course not listed, is refused with a reason.

Load it:
  Kubernetes   helm upgrade ... --set-file hub.extraConfig.50-auth=hub_config/examples/lti13_config.py
  one machine  load_subconfig("examples/lti13_config.py") at the END of hub_config/jupyterhub_config.py
and set the LTI13_* environment variables of the hub (README.md in this folder says where they come from).
"""

import os

from tornado import web

COURSE_ID = "aiml101"               # course_config.py: COURSE.id
COHORTS = ("2026a", "2026b")        # course_config.py: COURSE.cohorts

ROLES_CLAIM = "https://purl.imsglobal.org/spec/lti/claim/roles"
CONTEXT_CLAIM = "https://purl.imsglobal.org/spec/lti/claim/context"
CUSTOM_CLAIM = "https://purl.imsglobal.org/spec/lti/claim/custom"
MEMBERSHIP = "http://purl.imsglobal.org/vocab/lis/v2/membership"


def lti_setting(name):
    """The hub's environment variable `name`; a clear error when it is missing."""
    value = os.environ.get(name, "").strip()
    if not value:
        raise ValueError(f"lti13_config.py: set the hub's environment variable {name} "
                         "(see hub_config/examples/README.md, 'LTI 1.3')")
    return value


def context_cohorts(spec):
    """'<LMS context id>=<cohort>,...' as a dict; every cohort must be one of course_config.py's."""
    mapping = {}
    for item in spec.split(","):
        context, sep, cohort = item.strip().rpartition("=")
        if not sep or not context or cohort not in COHORTS:
            raise ValueError(f"lti13_config.py: LTI13_CONTEXTS item {item.strip()!r} must be "
                             f"'<LMS context id>=<cohort>' with a cohort in {COHORTS}")
        mapping[context] = cohort
    return mapping


def course_role(lti_roles):
    """The course role (student, ta, instructor) that a launch's LTI context roles give, else None."""
    roles = set(lti_roles)
    simple = {role.rpartition("#")[2] for role in roles if role.startswith(MEMBERSHIP) or "/" not in role}
    if "TeachingAssistant" in simple:   # Canvas sends a TA as Instructor plus the Instructor#TeachingAssistant sub-role
        return "ta"
    if simple & {"Instructor", "Administrator"}:
        return "instructor"
    if "Learner" in simple:
        return "student"
    return None                         # e.g. Mentor, or only institution roles


def course_groups(role, cohort):
    """The hub groups of a course member, as aiml_course.hub.roster.hub_groups names them."""
    groups = {
        "student": ["students", f"nbgrader-{COURSE_ID}"],
        "ta": ["tas", f"formgrade-{COURSE_ID}"],
        "instructor": ["instructors", f"formgrade-{COURSE_ID}"],
    }[role]
    return sorted(groups + ([f"cohort-{cohort}"] if cohort else []))


def lti_post_auth_hook(authenticator, handler, authentication):
    """Refuse launches without a course role or from an unknown LMS course; give the others their groups."""
    claims = authentication.get("auth_state") or {}
    key = authenticator.username_key
    if key.startswith("custom_") and not (claims.get(CUSTOM_CLAIM) or {}).get(key[len("custom_"):]):
        # ltiauthenticator then falls back to the opaque `sub`: nobody could tell whose grades those are
        raise web.HTTPError(403, f"The LMS sent no {key[len('custom_'):]}: the course staff must add the "
                                 "custom parameter username=$User.username to the tool's settings")
    context = (claims.get(CONTEXT_CLAIM) or {}).get("id", "")
    if context not in CONTEXT_COHORTS:
        raise web.HTTPError(403, f"This LMS course (context {context!r}) is not connected to {COURSE_ID}'s hub: "
                                 "the course staff add it to LTI13_CONTEXTS")
    role = course_role(claims.get(ROLES_CLAIM) or [])
    if role is None:
        raise web.HTTPError(403, f"Your role in the LMS course gives no access to {COURSE_ID}")
    cohort = "" if role == "instructor" else CONTEXT_COHORTS[context]
    authentication["groups"] = course_groups(role, cohort)
    return authentication


CONTEXT_COHORTS = context_cohorts(lti_setting("LTI13_CONTEXTS"))

# ltiauthenticator 1.6 registers no entry point, so the class is named by its import path.
c.JupyterHub.authenticator_class = "ltiauthenticator.lti13.auth.LTI13Authenticator"  # noqa: F821
lti = c.LTI13Authenticator  # noqa: F821
lti.issuer = lti_setting("LTI13_ISSUER")
lti.client_id = {cid.strip() for cid in lti_setting("LTI13_CLIENT_ID").split(",") if cid.strip()}
lti.authorize_url = lti_setting("LTI13_AUTHORIZE_URL")
lti.jwks_endpoint = lti_setting("LTI13_JWKS_ENDPOINT")
lti.username_key = "custom_username"      # the LMS custom parameter username=$User.username
lti.uri_scheme = "https"
lti.tool_name = f"{COURSE_ID} JupyterHub"
lti.tool_description = "The notebooks of the course, graded"
lti.allow_all = True                      # the platform vouches for each launch; the hook refuses non-members
lti.manage_groups = True
lti.post_auth_hook = lti_post_auth_hook
# The authenticator owns group membership: JupyterHub refuses load_groups when manage_groups is on.
c.JupyterHub.load_groups = {}  # noqa: F821
