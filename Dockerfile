# Switchboard's own image. No container registry is needed: the base is built locally by
# `scripts/base-image.sh` (debootstrap + docker import); `make image` runs both steps.
ARG BASE=switchboard/base:latest
FROM ${BASE}

COPY pyproject.toml README.md /src/
COPY switchboard /src/switchboard
COPY registry /src/registry
COPY sandboxes /src/sandboxes
COPY toolhost /src/toolhost
COPY agents /src/agents
COPY web /src/web
RUN python3 -m venv /opt/switchboard \
 && /opt/switchboard/bin/pip install --no-cache-dir /src \
 && useradd --system --uid 10001 --home-dir /data --create-home switchboard

USER switchboard
ENV PATH=/opt/switchboard/bin:$PATH \
    SWITCHBOARD_DATA_DIR=/data
VOLUME /data
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --retries=3 \
  CMD python3 -c "import urllib.request,os; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('SWITCHBOARD_PORT', '8080'))"
CMD ["switchboard", "serve"]
