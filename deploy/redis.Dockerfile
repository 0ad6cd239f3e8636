# Redis from Debian's redis-server package, for machines that cannot pull the official
# redis image (air-gapped, or no Docker Hub): `deploy/ensure-engine.sh` builds it on the
# offline base. Select it with NEWSROOM_REDIS_IMAGE=newsroom-redis:bookworm.
# Like the official image it runs as the redis user with its data in /data, so the same
# compose command and volume work with either.
ARG BASE_IMAGE=debian:bookworm-slim
FROM ${BASE_IMAGE}
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends redis-server \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /data && chown redis:redis /data
WORKDIR /data
USER redis
EXPOSE 6379
CMD ["redis-server", "--dir", "/data", "--protected-mode", "no"]
