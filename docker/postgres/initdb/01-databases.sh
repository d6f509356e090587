#!/usr/bin/env bash
# Mounted into /docker-entrypoint-initdb.d/ of the postgres service (docker-compose.yaml). The official
# PostgreSQL image runs it ONCE, when the postgres-data volume is empty, as POSTGRES_USER (airflow), the
# server's superuser. It creates:
#   airflow    Airflow's metadata database, owned by the superuser `airflow` (airflow-init runs
#              `airflow db migrate` on it)
#   warehouse  the project's warehouse, owned by the role `warehouse`, which is nothing else: no
#              superuser, no CREATEDB or CREATEROLE, no access to any other database. The `warehouse`
#              connection of every task logs in as it (airflow-init runs `python -m recruitment_month.warehouse`).
# Its password comes from WAREHOUSE_DB_PASSWORD (.env), bound as a psql variable, never spliced into SQL.
# UTF-8 explicitly: the reports, names and messages are Chinese.
# docs/security.md says how to do the same on a volume created before this script existed.
set -euo pipefail
: "${WAREHOUSE_DB_PASSWORD:?set WAREHOUSE_DB_PASSWORD in .env (see .env.example)}"

psql --no-psqlrc -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
  --set=warehouse_password="$WAREHOUSE_DB_PASSWORD" <<'SQL'
CREATE DATABASE airflow TEMPLATE template0 ENCODING 'UTF8';
CREATE ROLE warehouse LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS
  PASSWORD :'warehouse_password';
CREATE DATABASE warehouse OWNER warehouse TEMPLATE template0 ENCODING 'UTF8';
-- Every database grants CONNECT to PUBLIC by default: only the warehouse's owner (and the superuser)
-- may connect to it, and nobody but the superuser to the others.
REVOKE ALL ON DATABASE airflow FROM PUBLIC;
REVOKE ALL ON DATABASE warehouse FROM PUBLIC;
REVOKE ALL ON DATABASE postgres FROM PUBLIC;
SQL
