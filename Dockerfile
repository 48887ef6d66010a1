# The faultline image for people who build with Docker: `docker build -t faultline:0.1.0 .`
#
# It is the same image `npm run image` builds with buildah (scripts/build-image.ts): the builder
# stage runs that script's `--stage` mode, which lays out the three layers (runtime: Node 24,
# its shared libraries, iptables, /etc, user 65532; deps: production node_modules; app) and
# verifies them in a chroot; the final stage copies them onto scratch and sets the same user,
# working directory, environment, entrypoint and labels.
#
# Not built by the project's own checks: its machines have no Docker engine and no registry to
# pull node:24 from. test/unit/dockerfile.test.ts keeps this file and the buildah script in
# agreement (entrypoint, cmd, user, workdir, env, layers, copied paths, labels).
ARG NODE_IMAGE=node:24-bookworm

FROM ${NODE_IMAGE} AS build
# iptables for `faultline capture` (the image's capture init role); strip comes with the image.
RUN apt-get update \
  && apt-get install -y --no-install-recommends iptables \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json ./
# The whole locked tree without install scripts (the `node` devDependency would fetch a second
# Node 24; this image's own is used): the staging prunes a copy to production with npm's own
# rules, exactly as the buildah build does.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY bin bin
COPY src src
COPY sidecar sidecar
COPY controller controller
COPY ui ui
COPY examples examples
COPY scripts/build-image.ts scripts/build-image.ts
RUN node scripts/build-image.ts --stage /stage --node /usr/local/bin/node

FROM scratch
COPY --from=build /stage/runtime/ /
# COPY makes everything root-owned; the user's folders get their owner back.
COPY --from=build --chown=65532:65532 /stage/runtime/home/ /home/
COPY --from=build --chown=65532:65532 /stage/runtime/var/lib/ /var/lib/
COPY --from=build /stage/deps/ /
COPY --from=build /stage/app/ /
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.title="faultline" \
  org.opencontainers.image.description="Chaos engineering for HTTP services: a fast fault-injection sidecar proxy and a hypothesis-driven experiment controller." \
  org.opencontainers.image.licenses="Apache-2.0" \
  org.opencontainers.image.base.name="scratch" \
  org.opencontainers.image.version="${VERSION}" \
  org.opencontainers.image.revision="${REVISION}" \
  org.opencontainers.image.created="${CREATED}"
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  NODE_ENV=production \
  FAULTLINE_DATA=/var/lib/faultline \
  FAULTLINE_TS_CACHE=/app/.ts-cache
USER 65532:65532
WORKDIR /app
ENTRYPOINT ["/usr/local/bin/node", "/app/bin/faultline.js"]
CMD ["help"]
