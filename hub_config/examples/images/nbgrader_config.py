"""nbgrader's system-wide configuration in the course image (/etc/jupyter/nbgrader_config.py).

The pod's environment picks the exchange (z2jh-values.yaml sets it through singleuser.extraEnv):

* ngshare (default on Kubernetes): NGSHARE_URL=http://ngshare:8080/services/ngshare
* one shared ReadWriteMany volume (z2jh-values-rwx-exchange.yaml): NBGRADER_EXCHANGE=/srv/nbgrader/exchange

NBGRADER_COURSE_ID is the course's id (course_config.py: COURSE.id).
"""

import os

c = get_config()  # noqa: F821 - provided by traitlets when nbgrader loads this file

c.CourseDirectory.course_id = os.environ.get("NBGRADER_COURSE_ID", "aiml101")

ngshare_url = os.environ.get("NGSHARE_URL", "").strip()
exchange_root = os.environ.get("NBGRADER_EXCHANGE", "").strip()
if ngshare_url and exchange_root:
    raise ValueError("nbgrader_config.py: set NGSHARE_URL or NBGRADER_EXCHANGE, not both")
if ngshare_url:
    try:
        from ngshare_exchange import configureExchange
    except ImportError as exc:
        raise ImportError(
            "nbgrader_config.py: NGSHARE_URL is set but ngshare_exchange is not installed in this image "
            "(pip install ngshare_exchange==0.5.2)"
        ) from exc
    configureExchange(c, ngshare_url)
elif exchange_root:
    c.Exchange.root = exchange_root
    # Every pod runs as jovyan (uid 1000), so a submission's owner cannot tell students apart;
    # nbgrader takes the student id from JUPYTERHUB_USER instead.
    c.CollectApp.check_owner = False
