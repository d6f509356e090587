# The project's image: the official Airflow image, the pinned dependencies, and the code baked in.
# Every Airflow service of docker-compose.yaml and the feed simulator run it; see docs/production.md.
#
# The code (dags/, plugins/, include/) is COPIED, not mounted: every worker, on this machine or another,
# runs exactly the code of the image it was started from, and a change of code is a new image
# (`docker compose build && docker compose up -d`).
FROM apache/airflow:3.3.2-python3.11

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
