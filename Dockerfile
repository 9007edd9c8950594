# One image for the Ray head, the Ray workers, the four services and the data loader.
# KubeRay needs the same Ray and Python in the cluster and in every client: Python 3.11 here, and Ray is
# the exact `ray[default]` pin of pyproject.toml.
#
#   docker build -t ray-services .                                     # online: pip from the index
#   docker build --network none --build-arg WHEELHOUSE=wheelhouse \
#     -t ray-services .                                                # offline: wheels in ./wheelhouse
#
# The wheelhouse directory lies inside the build context (.dockerignore lets `wheelhouse*/` through)
# and must hold every dependency at its requirements.lock version, plus setuptools and wheel to build the
# project itself (`make k8s-up` downloads it: scripts/engine.sh engine_wheelhouse).
ARG PYTHON_IMAGE=python:3.11-slim

# --- context: pick the wheelhouse out of the build context (an empty /wheels when online) -------------
FROM ${PYTHON_IMAGE} AS context
# Stages whose images are only this build's scratch carry this label: `scripts/engine.sh prune` removes them.
LABEL raysvc.stage=context
ARG WHEELHOUSE=""
COPY . /ctx
RUN mkdir -p /wheels \
 && if [ -n "${WHEELHOUSE}" ]; then \
      test -d "/ctx/${WHEELHOUSE}" || { echo "WHEELHOUSE=${WHEELHOUSE} is not a directory of the build context" >&2; exit 1; }; \
      mv "/ctx/${WHEELHOUSE}"/* /wheels/; \
    fi

# --- deps: a virtual environment with the dependencies, from pyproject.toml and requirements.lock alone -
FROM ${PYTHON_IMAGE} AS deps
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PIP_ROOT_USER_ACTION=ignore
COPY --from=context /wheels /wheels
# An empty package and README stand in for the source, so that a source or README change does not
# reinstall them (a README edit cost a ~5 min rebuild of this layer on the 2-CPU CI machine). The lock
# (`make lock`) pins every dependency, so a rebuild installs the same versions as the last one.
COPY --from=context /ctx/pyproject.toml /ctx/requirements.lock /src/
RUN set -eu; \
    if [ -n "$(ls -A /wheels)" ]; then export PIP_NO_INDEX=1 PIP_FIND_LINKS=/wheels; fi; \
    python -m venv /opt/venv; \
    mkdir -p /src/services && touch /src/services/__init__.py /src/README.md; \
    /opt/venv/bin/pip install -c /src/requirements.lock /src; \
    /opt/venv/bin/pip uninstall -y ray-services; \
    rm -rf /src/services /src/build /src/*.egg-info

# --- build: the project alone in /opt/app (its package, metadata and the raysvc script) ----------------
FROM deps AS build
LABEL raysvc.stage=build
COPY --from=context /ctx/README.md /src/
COPY --from=context /ctx/services /src/services
RUN set -eu; \
    if [ -n "$(ls -A /wheels)" ]; then export PIP_NO_INDEX=1 PIP_FIND_LINKS=/wheels; fi; \
    /opt/venv/bin/pip install --no-deps --target /opt/app /src; \
    export PYTHONPATH=/opt/app; \
    /opt/venv/bin/python -c "import ray, services, sys; print('ray', ray.__version__, 'python', sys.version.split()[0])"; \
    /opt/venv/bin/pip check

# --- final: the venv on a slim Python, no compilers, non-root ---------------------------------------------
FROM ${PYTHON_IMAGE}
# KubeRay (>= 1.6 with Ray >= 2.53) probes Ray pods with httpGet on the dashboard agent and starts Ray with
# `bash -c`, so the image needs bash but no wget. An operator run with ENABLE_LOGIN_SHELL=true starts it with
# `bash -lc`, and Debian's /etc/profile resets PATH for login shells: the profile.d line puts the venv first
# again, or `ray` and the job drivers' `python` would not be the venv's.
RUN set -eu; \
    groupadd --gid 1000 ray; \
    useradd --uid 1000 --gid 1000 --home-dir /home/ray --create-home --shell /bin/bash ray; \
    echo 'export PATH=/opt/app/bin:/opt/venv/bin:$PATH' > /etc/profile.d/venv.sh
# Two layers: the dependencies (~900 MB, rebuilt only when pyproject.toml or requirements.lock changes) and
# the project (well under 1 MB), so a source change in the skaffold loop pushes and pulls the small one only.
COPY --from=deps /opt/venv /opt/venv
COPY --from=build /opt/app /opt/app
ENV PATH=/opt/app/bin:/opt/venv/bin:$PATH \
    PYTHONPATH=/opt/app \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    RAYSVC_DATA_DIR=/data \
    RAYSVC_RESULTS_DIR=/results \
    RAYSVC_MODELS_DIR=/models
RUN mkdir -p /data /results /models && chown 1000:1000 /data /results /models
USER 1000:1000
WORKDIR /home/ray
EXPOSE 8005 8006 8007 8008 6379 8265 10001 8080
CMD ["raysvc", "--help"]
