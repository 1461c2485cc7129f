# syntax=docker/dockerfile:1
#
# Strata: one image, three roles (docs/deployment.md).
#
#   docker build -t strata .
#   docker run --rm -v "$PWD:/project:ro" -p 127.0.0.1:3000:3000 strata                 # serve
#   docker run --rm -v "$PWD:/project:ro" strata worker --project /project              # a worker
#   docker run --rm -v "$PWD:/project:ro" strata validate --project /project            # any command
#
# The project (strata.yaml, definitions/, trackers/) is mounted at /project; nothing of it is
# baked in. The image runs `node /app/dist/cli.js`, so every CLI command works as the command.

# --- toolchain: Node 20 on Debian (glibc: @duckdb/node-api ships prebuilt linux-x64/arm64
# glibc bindings), npm 11 (honours package.json allowScripts, as the lock was made with), and
# a compiler for better-sqlite3 should no prebuilt binary match.
FROM node:20-bookworm-slim AS toolchain
RUN apt-get update \
  && apt-get install -y --no-install-recommends python3 make g++ \
  && rm -rf /var/lib/apt/lists/* \
  && npm install -g npm@11.19.1 \
  && npm cache clean --force

# --- build: every dependency, then tsc into dist/.
FROM toolchain AS build
WORKDIR /build
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# --- prod-deps: production dependencies only, native modules built for this platform.
FROM toolchain AS prod-deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev && npm cache clean --force

# --- runtime: no compiler, no dev dependencies, no sources; runs as the unprivileged `node` user.
FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
# package.json is read at run time (strata --version); node_modules and dist are all the rest.
COPY package.json LICENSE ./
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /build/dist ./dist
# /project: the mounted project (read-only is fine when strata.yaml puts the warehouse, its
# catalog and the run history elsewhere). /var/lib/strata: writable state (the embedded
# warehouse's files), owned by `node` so that a named volume mounted there is too.
RUN mkdir -p /project /var/lib/strata && chown node:node /var/lib/strata
USER node
WORKDIR /project
EXPOSE 3000
# GET /health answers 200 while the service reaches Redis, 503 otherwise (open: no credential).
# A worker has no HTTP server: turn this check off for workers (docker-compose: healthcheck.disable).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:3000/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "/app/dist/cli.js"]
# Listening on every interface of the container is explicit (the default is 127.0.0.1): publish
# the port only to a TLS-terminating proxy (docs/deployment.md).
CMD ["serve", "--project", "/project", "--host", "0.0.0.0", "--port", "3000"]
