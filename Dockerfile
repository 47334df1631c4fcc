# The Airflow image the team stack (docker-compose.yml) runs: the official Airflow 3.3.2 image plus
# exactly the dependency versions this repository is tested with (requirements.lock: the amazon,
# celery, mysql, postgres, common-sql and standard providers and their pins).
#
# The code itself is not baked in: docker-compose.yml mounts dags/, plugins/ (the cdc_runbooks
# package; Airflow puts the plugins folder on sys.path in every component), runbooks/ and config/.
# For an image that carries the code (e.g. Kubernetes), COPY those four directories to the same
# places under /opt/airflow.
FROM apache/airflow:3.3.2-python3.11

COPY --chown=airflow:0 requirements.lock /opt/cdc-runbooks/requirements.lock
RUN pip install --no-cache-dir -r /opt/cdc-runbooks/requirements.lock
