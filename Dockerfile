# liveloop: the API and dashboard (one process: the DuckDB warehouse has one writer), optionally with
# shared state in Redis and batch on a Spark cluster. Build: docker build -t liveloop .
# Run: docker compose up (compose.yaml), or docker run -p 8765:8765 -v liveloop-data:/data liveloop
FROM python:3.11-slim-bookworm

# Java 17 for --engine spark (PySpark's driver), Chromium and CJK fonts for PDF reports in Chinese.
# Not pinned: Debian's security updates replace the archive's versions, and a pin would break the build.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends openjdk-17-jre-headless chromium fonts-noto-cjk \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md ./
COPY src ./src
# the CPU build of torch first (an unpinned torch pulls the multi-GB CUDA build); then this source tree,
# whose own pins are in pyproject.toml
# hadolint ignore=DL3013
RUN pip install --no-cache-dir torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu \
    && pip install --no-cache-dir '.[spark,redis]'

RUN useradd --create-home --uid 10001 liveloop && mkdir /data && chown liveloop /data
USER 10001
ENV LIVELOOP_HOME=/data \
    LIVELOOP_CHROMIUM=/usr/bin/chromium \
    SPARK_LOCAL_IP=127.0.0.1
VOLUME ["/data"]
EXPOSE 8765
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8765/ready', timeout=4)"]
CMD ["liveloop", "serve", "--host", "0.0.0.0", "--port", "8765"]
