# The user-pod image: JupyterLab, nbgrader with the ngshare exchange client, and the course's student library.
# Build from the repository root (CPU; for the GPU profile pass the CUDA wheel index of torch that your GPU
# nodes' driver supports, e.g. --build-arg TORCH_INDEX=https://download.pytorch.org/whl/cu128):
#
#   docker build -f hub_config/examples/images/singleuser.Dockerfile -t registry.example.org/aiml101/singleuser:2026a.1 .
#
# Only src/ and pyproject.toml enter the image: source/ and autograder/ hold the solutions and hidden tests,
# and every layer of this image can be read by anyone who can pull it.
FROM quay.io/jupyter/minimal-notebook:python-3.11

ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu

# torch first from its own index (a plain `torch` requirement would pull the multi-GB CUDA build on PyPI).
# jupyterhub-singleuser must match the hub's major version: chart 4.4.0 runs JupyterHub 5.5.
# ngshare_exchange 0.5.2: 0.5.3 pins jupyter-core<4.11.2, impossible with jupyter_server 2.
RUN pip install --no-cache-dir --index-url "${TORCH_INDEX}" "torch==2.13.0" \
 && pip install --no-cache-dir "jupyterhub==5.5.*" "nbgrader==0.9.6" "ngshare_exchange==0.5.2"

COPY --chown=${NB_UID}:${NB_GID} pyproject.toml README.md /tmp/aiml-course/
COPY --chown=${NB_UID}:${NB_GID} src /tmp/aiml-course/src
RUN pip install --no-cache-dir "jupyterhub==5.5.*" /tmp/aiml-course && rm -rf /tmp/aiml-course

USER root
# Which exchange nbgrader uses (ngshare or the shared volume), chosen by the pod's environment.
COPY hub_config/examples/images/nbgrader_config.py /etc/jupyter/nbgrader_config.py
# Lab shows the formgrader in an iframe of the same server; jupyterhub-singleuser forbids framing by default.
COPY hub_config/examples/images/aiml-formgrader-frame.json /etc/jupyter/jupyter_server_config.d/
# Per-role Lab settings (students do not see the formgrader): JUPYTER_CONFIG_PATH, set by the hub's
# 20-course-jupyter-config snippet in z2jh-values.yaml, picks one of these.
COPY hub_config/jupyter/student/ /opt/aiml-course/jupyter/student/
COPY hub_config/jupyter/staff/ /opt/aiml-course/jupyter/staff/
USER ${NB_UID}
