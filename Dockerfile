# The project's images, from one file: the official Airflow image, the pinned dependencies, the code baked in.
#
#   runtime     what production runs: the runtime lock and the product only (dags/, plugins/, include/).
#               Every Airflow service of docker-compose.yaml runs it; see docs/production.md.
#   devkit      runtime plus the development lock and the dev kit (devkit/: feed simulator, mail sink,
#               demo drivers). Only the compose file's feed-simulator runs it; it never runs a task.
#   (default)   the last stage, the same as runtime: `docker build .` gives the production image.
#
# The code is COPIED, not mounted: every worker, on this machine or another, runs exactly the code of
# the image it was started from, and a change of code is a new image
# (`docker compose build && docker compose up -d`).
FROM apache/airflow:3.3.2-python3.11 AS runtime

# Extend the official image the way its documentation says: pip as the `airflow` user (never root).
# The lock pins apache-airflow to the image's own version (tests/test_compose.py checks it) and holds
# the sha256 of every file: --require-hashes refuses any download that differs from the one locked.
USER airflow
COPY --chown=airflow:root requirements.lock /opt/airflow/requirements.lock
RUN pip install --no-cache-dir --require-hashes -r /opt/airflow/requirements.lock

ENV PYTHONPATH=/opt/airflow/plugins \
    AIRFLOW__CORE__DAGS_FOLDER=/opt/airflow/dags \
    AIRFLOW__CORE__PLUGINS_FOLDER=/opt/airflow/plugins \
    RECRUITMENT_DATA_DIR=/opt/airflow/data

# The folders the named volumes are mounted on exist in the image, owned by airflow, so that a new
# volume starts with the right owner (Docker copies the mount point's ownership into an empty volume).
RUN mkdir -p /opt/airflow/logs /opt/airflow/auth \
        /opt/airflow/data/inbox /opt/airflow/data/archive /opt/airflow/data/raw /opt/airflow/data/datadocs

# include/ first: configuration and SQL change less often than the code.
COPY --chown=airflow:root include/ /opt/airflow/include/
COPY --chown=airflow:root plugins/ /opt/airflow/plugins/
COPY --chown=airflow:root dags/ /opt/airflow/dags/

# The dev kit's image: the development lock (constrained by the runtime lock, so shared pins agree and
# are already installed) and devkit/ on the path next to the product.
FROM runtime AS devkit
COPY --chown=airflow:root requirements-dev.lock /opt/airflow/requirements-dev.lock
RUN pip install --no-cache-dir --require-hashes -r /opt/airflow/requirements-dev.lock
COPY --chown=airflow:root devkit/ /opt/airflow/devkit/
ENV PYTHONPATH=/opt/airflow/plugins:/opt/airflow/devkit

# The default target is production's: nothing of the dev kit.
FROM runtime AS production
