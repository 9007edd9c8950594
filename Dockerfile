# One image for the Ray head, the Ray workers, the four services and the data loader.
# KubeRay needs the same Ray and Python in the cluster and in every client: Python 3.11 here, and Ray is
# the exact `ray[default]` pin of pyproject.toml.
#
#   docker build -t ray-services .                                     # online: pip from the index
#   docker build --network none --build-arg WHEELHOUSE=wheelhouse \
#     -t ray-services .                                                # offline: wheels in ./wheelhouse
#
# The wheelhouse directory lies inside the build context (.dockerignore lets `wheelhouse*/` through)
# and must hold every dependency, plus setuptools and wheel to build the project itself.
ARG PYTHON_IMAGE=python:3.11-slim

# --- context: pick the wheelhouse out of the build context (an empty /wheels when online) -------------
FROM ${PYTHON_IMAGE} AS context
ARG WHEELHOUSE=""
COPY . /ctx
RUN mkdir -p /wheels \
 && if [ -n "${WHEELHOUSE}" ]; then \
      test -d "/ctx/${WHEELHOUSE}" || { echo "WHEELHOUSE=${WHEELHOUSE} is not a directory of the build context" >&2; exit 1; }; \
      mv "/ctx/${WHEELHOUSE}"/* /wheels/; \
    fi

# --- build: a virtual environment with the dependencies, then the project ----------------------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PIP_ROOT_USER_ACTION=ignore
COPY --from=context /wheels /wheels
# Dependencies first, from pyproject.toml alone (an empty package stands in for the source), so that a
# source change does not reinstall them.
COPY --from=context /ctx/pyproject.toml /ctx/README.md /src/
RUN set -eu; \
    if [ -n "$(ls -A /wheels)" ]; then export PIP_NO_INDEX=1 PIP_FIND_LINKS=/wheels; fi; \
    python -m venv /opt/venv; \
    mkdir -p /src/services && touch /src/services/__init__.py; \
    /opt/venv/bin/pip install /src; \
    /opt/venv/bin/pip uninstall -y ray-services; \
    rm -rf /src/services /src/build /src/*.egg-info
COPY --from=context /ctx/services /src/services
RUN set -eu; \
    if [ -n "$(ls -A /wheels)" ]; then export PIP_NO_INDEX=1 PIP_FIND_LINKS=/wheels; fi; \
    /opt/venv/bin/pip install --no-deps /src; \
    /opt/venv/bin/python -c "import ray, sys; print('ray', ray.__version__, 'python', sys.version.split()[0])"; \
    /opt/venv/bin/pip check

# --- final: the venv on a slim Python, no compilers, non-root ---------------------------------------------
FROM ${PYTHON_IMAGE}
# KubeRay's default probes on Ray pods run `bash -c "wget ... | grep success"`; the slim base has bash
# and grep but no wget (a base that has it, like the offline CI base, skips the apt step).
# KubeRay starts Ray with `bash -lc`, and Debian's /etc/profile resets PATH for login shells: the
# profile.d line puts the venv first again, or `ray` and the job drivers' `python` would not be the venv's.
RUN set -eu; \
    if ! command -v wget >/dev/null; then \
      apt-get update; apt-get install -y --no-install-recommends wget; rm -rf /var/lib/apt/lists/*; \
    fi; \
    groupadd --gid 1000 ray; \
    useradd --uid 1000 --gid 1000 --home-dir /home/ray --create-home --shell /bin/bash ray; \
    echo 'export PATH=/opt/venv/bin:$PATH' > /etc/profile.d/venv.sh
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
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
