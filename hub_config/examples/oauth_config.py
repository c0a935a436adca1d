"""jupyterhub_config.py fragment: log in with the institution's OpenID Connect / OAuth2 provider, or with GitHub.

oauthenticator 17 (in the z2jh hub image). Membership in the course comes from the provider: groups in the
identity provider (Keycloak, Entra ID, Google Workspace, Authentik...) or teams in a GitHub organisation, named

    aiml101-instructors   aiml101-tas   aiml101-students-2026a   aiml101-students-2026b   (one per cohort)

(GitHub: teams with these slugs in COURSE_GITHUB_ORG). They become the course's hub groups - students / tas /
instructors, cohort-<name>, nbgrader-<course>, formgrade-<course>, the names `course roster` uses
(aiml_course.hub.roster.hub_groups) - so the hub roles apply (z2jh-values.yaml). Only people in one of them
get in (allowed_groups).

Load it:
  Kubernetes   helm upgrade ... --set-file hub.extraConfig.50-auth=hub_config/examples/oauth_config.py
  one machine  load_subconfig("examples/oauth_config.py") at the END of hub_config/jupyterhub_config.py
and set the hub's environment: COURSE_OAUTH_PROVIDER (generic, the default, or github), OAUTH_CLIENT_ID,
OAUTH_CLIENT_SECRET, OAUTH_CALLBACK_URL, and for generic OAUTH2_AUTHORIZE_URL, OAUTH2_TOKEN_URL,
OAUTH2_USERDATA_URL, for github COURSE_GITHUB_ORG (README.md in this folder).
"""

import os

COURSE_ID = "aiml101"               # course_config.py: COURSE.id
COHORTS = ("2026a", "2026b")        # course_config.py: COURSE.cohorts
RANK = {"student": 1, "ta": 2, "instructor": 3}
COURSE_ROLE_GROUPS = {"students", "tas", "instructors"}


def oauth_setting(name, default=None):
    """The hub's environment variable `name`; a clear error when it is missing and has no default."""
    value = os.environ.get(name, "").strip() or default
    if not value:
        raise ValueError(f"oauth_config.py: set the hub's environment variable {name} "
                         "(see hub_config/examples/README.md, 'OAuth')")
    return value


def provider_groups(prefix=""):
    """Provider group (or GitHub 'org:team') -> (course role, cohort), by the naming convention above."""
    groups = {f"{prefix}{COURSE_ID}-instructors": ("instructor", ""), f"{prefix}{COURSE_ID}-tas": ("ta", "")}
    for cohort in COHORTS:
        groups[f"{prefix}{COURSE_ID}-students-{cohort}"] = ("student", cohort)
    return groups


def course_groups(role, cohort):
    """The hub groups of a course member, as aiml_course.hub.roster.hub_groups names them."""
    groups = {
        "student": ["students", f"nbgrader-{COURSE_ID}"],
        "ta": ["tas", f"formgrade-{COURSE_ID}"],
        "instructor": ["instructors", f"formgrade-{COURSE_ID}"],
    }[role]
    return sorted(groups + ([f"cohort-{cohort}"] if cohort else []))


def hub_groups_from(member_of, mapping):
    """The hub groups for someone in the provider groups `member_of`: the highest role, the first cohort."""
    found = [mapping[name] for name in sorted(set(member_of)) if name in mapping]
    if not found:
        return []                       # not in the course: allowed_groups turns them away
    role = max((r for r, _ in found), key=RANK.__getitem__)
    cohorts = sorted(cohort for _, cohort in found if cohort)
    return course_groups(role, cohorts[0] if cohorts else "")


def generic_groups(auth_state):
    """Hub groups from the provider's `groups` claim (auth_state['oauth_user'])."""
    claims = auth_state.get("oauth_user") or {}
    return hub_groups_from(claims.get(os.environ.get("OAUTH_GROUPS_CLAIM", "groups")) or [], provider_groups())


def github_groups(auth_state):
    """Hub groups from the GitHub teams oauthenticator put in auth_state['teams'] ('org:team-slug')."""
    org = oauth_setting("COURSE_GITHUB_ORG")
    teams = [f"{t['organization']['login']}:{t['slug']}" for t in auth_state.get("teams") or []]
    return hub_groups_from(teams, provider_groups(prefix=f"{org}:"))


PROVIDER = os.environ.get("COURSE_OAUTH_PROVIDER", "generic").strip().lower()
if PROVIDER == "generic":
    c.JupyterHub.authenticator_class = "generic-oauth"  # noqa: F821
    auth = c.GenericOAuthenticator  # noqa: F821
    auth.authorize_url = oauth_setting("OAUTH2_AUTHORIZE_URL")
    auth.token_url = oauth_setting("OAUTH2_TOKEN_URL")
    auth.userdata_url = oauth_setting("OAUTH2_USERDATA_URL")
    auth.scope = ["openid", "profile", "email"]
    auth.username_claim = oauth_setting("OAUTH_USERNAME_CLAIM", "preferred_username")
    auth.login_service = oauth_setting("OAUTH_LOGIN_SERVICE", "your university account")
    auth.auth_state_groups_key = generic_groups
elif PROVIDER == "github":
    oauth_setting("COURSE_GITHUB_ORG")
    c.JupyterHub.authenticator_class = "github"  # noqa: F821
    auth = c.GitHubOAuthenticator  # noqa: F821
    auth.scope = ["read:user", "read:org"]   # read:org lets oauthenticator list the user's teams
    auth.populate_teams_in_auth_state = True
    auth.auth_state_groups_key = github_groups
else:
    raise ValueError(f"oauth_config.py: COURSE_OAUTH_PROVIDER is {PROVIDER!r}; use 'generic' or 'github'")

auth.client_id = oauth_setting("OAUTH_CLIENT_ID")
auth.client_secret = oauth_setting("OAUTH_CLIENT_SECRET")
auth.oauth_callback_url = oauth_setting("OAUTH_CALLBACK_URL")   # https://<hub>/hub/oauth_callback
auth.manage_groups = True
auth.allowed_groups = COURSE_ROLE_GROUPS
# The authenticator owns group membership: JupyterHub refuses load_groups when manage_groups is on.
c.JupyterHub.load_groups = {}  # noqa: F821
