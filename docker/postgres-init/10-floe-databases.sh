#!/bin/sh
# Creates the roles and databases of the Compose stack: Dagster's storage, Marquez's, and the
# serving database (the marts published after each run, read by Cube).
# The postgres image runs this once, when its data volume is empty. Names and passwords come
# from the container's environment (docker/.env through docker-compose.yml); psql quotes them
# (:"name" as an identifier, :'value' as a literal), so no value is pasted into SQL.
set -eu

: "${DAGSTER_PG_USER:?}" "${DAGSTER_PG_PASSWORD:?}" "${DAGSTER_PG_DB:?}"
: "${MARQUEZ_PG_USER:?}" "${MARQUEZ_PG_PASSWORD:?}" "${MARQUEZ_PG_DB:?}"
: "${SERVING_PG_USER:?}" "${SERVING_PG_PASSWORD:?}" "${SERVING_PG_DB:?}"

psql --no-psqlrc -v ON_ERROR_STOP=1 \
    --username "${POSTGRES_USER:-postgres}" --dbname "${POSTGRES_DB:-postgres}" \
    -v dagster_user="$DAGSTER_PG_USER" -v dagster_password="$DAGSTER_PG_PASSWORD" \
    -v dagster_db="$DAGSTER_PG_DB" \
    -v marquez_user="$MARQUEZ_PG_USER" -v marquez_password="$MARQUEZ_PG_PASSWORD" \
    -v marquez_db="$MARQUEZ_PG_DB" \
    -v serving_user="$SERVING_PG_USER" -v serving_password="$SERVING_PG_PASSWORD" \
    -v serving_db="$SERVING_PG_DB" <<'SQL'
CREATE ROLE :"dagster_user" LOGIN PASSWORD :'dagster_password';
CREATE DATABASE :"dagster_db" OWNER :"dagster_user";
CREATE ROLE :"marquez_user" LOGIN PASSWORD :'marquez_password';
CREATE DATABASE :"marquez_db" OWNER :"marquez_user";
-- One role for the serving database: runs publish the marts there and Cube reads them and
-- builds its pre-aggregations there (its own schema, CUBEJS_PRE_AGGREGATIONS_SCHEMA).
CREATE ROLE :"serving_user" LOGIN PASSWORD :'serving_password';
CREATE DATABASE :"serving_db" OWNER :"serving_user";
SQL
