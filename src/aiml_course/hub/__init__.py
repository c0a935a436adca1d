"""The course on a JupyterHub: file layout, roster, nbgrader exchange, dashboard service, `course hub`."""
