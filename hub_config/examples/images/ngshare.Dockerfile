# ngshare 0.6.0 on the SQLAlchemy 1.x stack it was written for. Under SQLAlchemy 2 a release "succeeds" but
# nothing is stored (ngshare.py relies on the 1.x backref cascade, sqlalchemy#5150): students list nothing
# and collect answers 404. Use this image in ngshare-values.yaml instead of the chart's default.
#
#   docker build -f hub_config/examples/images/ngshare.Dockerfile -t registry.example.org/aiml101/ngshare:0.6.0-sqla1 .
FROM python:3.11-slim

RUN pip install --no-cache-dir "ngshare==0.6.0" "SQLAlchemy<2" "alembic<1.15" \
 && python -c "import sqlalchemy; assert sqlalchemy.__version__.startswith('1.'), sqlalchemy.__version__"

# The chart runs the container with a read-only root filesystem as uid 65535; data lives on /srv/ngshare.
ENV PYTHONDONTWRITEBYTECODE=1
USER 65535:65535
ENTRYPOINT ["python3", "-m", "ngshare"]
