# Build stage: a compiler for the native data plane (native/, node-gyp) and typescript for dist/.
FROM node:20-bookworm-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json binding.gyp ./
COPY native ./native
# npm ci runs the install script, which builds build/Release/rtpbridge_native.node.
RUN npm ci
COPY tsconfig.json ./
COPY src ./src
RUN npm run build && test -f build/Release/rtpbridge_native.node

# Runtime stage: production dependencies, the compiled output and the addon; no compiler.
FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY --from=build /app/build/Release/rtpbridge_native.node ./build/Release/
USER node
# ng control, then the default media port range (publishing it is slow; prefer --network host).
EXPOSE 2223/udp 30000-40000/udp
# A container's main process must not daemonize.
ENTRYPOINT ["node", "/app/dist/bin/rtpbridge.js", "--foreground"]
CMD ["--listen-ng=0.0.0.0:2223"]
