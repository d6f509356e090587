-- Mounted into /docker-entrypoint-initdb.d/ of the postgres service (docker-compose.yaml). The official
-- PostgreSQL image runs it ONCE, when the postgres-data volume is empty, as POSTGRES_USER (airflow),
-- who therefore owns both databases:
--   airflow    Airflow's metadata database (airflow-init runs `airflow db migrate` on it)
--   warehouse  the project's warehouse (airflow-init runs `python -m recruitment_month.warehouse`)
-- UTF-8 explicitly: the reports, names and messages are Chinese.
CREATE DATABASE airflow TEMPLATE template0 ENCODING 'UTF8';
CREATE DATABASE warehouse TEMPLATE template0 ENCODING 'UTF8';
