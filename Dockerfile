# Build stage: dev dependencies (typescript) compile src/ to dist/.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts
COPY tsconfig.json ./
COPY src ./src
RUN npm run build

# Runtime stage: production dependencies and the compiled output only.
FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force
COPY --from=build /app/dist ./dist
USER node
# ng control, then the default media port range (publishing it is slow; prefer --network host).
EXPOSE 2223/udp 30000-40000/udp
# A container's main process must not daemonize.
ENTRYPOINT ["node", "/app/dist/bin/rtpbridge.js", "--foreground"]
CMD ["--listen-ng=0.0.0.0:2223"]
