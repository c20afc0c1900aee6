# One image for every cloud step. A step runs `kedro run --env cloud` plus its selector, e.g.
#   docker run IMAGE --pipelines training
# and reads and writes its data under CIRRUS_STORAGE_ROOT (see conf/cloud/globals.yml).
# Build: docker build -t REGISTRY/cirrus:VERSION .   (the exports take the tag from deploy.yml)
#   or bash scripts/build-image.sh, which also builds without a Docker engine (buildah).

# The tag pins the Python patch release and the Debian release; pin it by digest as well
# (python:3.11.14-slim-bookworm@sha256:...) in your registry mirror for byte-identical rebuilds.
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

# Without a registry, scripts/build-image.sh builds a base of Debian's own python3 packages and
# passes it here; both bases have python3 and venv, and neither needs pip on the system Python.

# ---- build: the virtual environment, from the hash-pinned lock (uv stays in this stage) ----
FROM ${PYTHON_IMAGE} AS build
RUN python3 -m venv /opt/uv \
    && /opt/uv/bin/pip install --no-cache-dir --disable-pip-version-check uv==0.13.9
COPY requirements-image.lock /tmp/requirements-image.lock
RUN python3 -m venv --without-pip /opt/venv \
    && /opt/uv/bin/uv pip sync --no-cache --require-hashes --python /opt/venv/bin/python \
        /tmp/requirements-image.lock

# ---- runtime: the environment and the committed configuration, run as a non-root user ----
FROM ${PYTHON_IMAGE}
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    KEDRO_DISABLE_TELEMETRY=true \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH
# LightGBM needs the OpenMP runtime, which the slim image leaves out.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgomp1 \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --gid 10001 cirrus \
    && useradd --uid 10001 --gid cirrus --create-home cirrus
COPY --from=build /opt/venv /opt/venv
WORKDIR /home/cirrus/app
# Kedro finds the project by pyproject.toml, imports the code from src/ and reads conf/.
# .dockerignore keeps data/, conf/local/ and credentials out of the build context entirely.
COPY pyproject.toml ./
COPY src ./src
COPY conf ./conf
USER 10001:10001
ENTRYPOINT ["kedro", "run", "--env", "cloud"]
# Without arguments the container runs the whole lifecycle; each exported step passes its own.
CMD []
