// Shared helpers for the JavaScript end-to-end suite: the `eddy serve` child process
// and AWS SDK v3 clients pointed at it.
//
// The binary comes from EDDY_BIN (scripts/e2e-js.sh sets it); without it,
// `$CARGO_TARGET_DIR/debug/eddy` (default `<repo>/target/debug/eddy`) is used.
// Each test file starts its own server on port 0 with a fresh temporary data directory.

import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { accessSync, constants as fsConstants, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";

import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { KinesisClient } from "@aws-sdk/client-kinesis";

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
export const REGION = "us-east-1";
export const ACCOUNT = "000000000000";
export const CREDENTIALS = {
  accessKeyId: "AKIDEXAMPLE",
  secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
};
const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 20_000;
const LISTEN_RE = /^eddy serve: listening on (http:\/\/\S+)$/;

export function eddyBin() {
  let bin = process.env.EDDY_BIN;
  if (!bin) {
    let target = process.env.CARGO_TARGET_DIR || path.join(REPO, "target");
    if (!path.isAbsolute(target)) target = path.join(REPO, target);
    bin = path.join(target, "debug", "eddy");
  }
  try {
    accessSync(bin, fsConstants.X_OK);
  } catch {
    throw new Error(
      `eddy binary not found at ${bin}: build it (cargo build -p eddy-cli), set EDDY_BIN, ` +
        "or run scripts/e2e-js.sh",
    );
  }
  return bin;
}

/** One `eddy serve` child process with its own temporary data directory. */
export class EddyServer {
  constructor() {
    this.dir = mkdtempSync(path.join(tmpdir(), "eddy-e2e-js-"));
    this.dataDir = path.join(this.dir, "data");
    this.proc = null;
    this.url = null;
    this.exit = null; // {code, signal} once exited
    this._stderr = "";
    this._stdout = "";
  }

  async start() {
    const cmd = [eddyBin(), "serve", "--data", this.dataDir, "--listen", "127.0.0.1:0"];
    const proc = spawn(cmd[0], cmd.slice(1), {
      stdio: ["ignore", "pipe", "pipe"],
      env: { RUST_BACKTRACE: "1", ...process.env },
    });
    this.proc = proc;
    proc.stderr.setEncoding("utf8");
    proc.stderr.on("data", (s) => {
      this._stderr = (this._stderr + s).slice(-64_000);
    });
    this.exited = new Promise((resolve) => {
      proc.on("exit", (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      });
    });
    proc.stdout.setEncoding("utf8");
    this.url = await new Promise((resolve, reject) => {
      let buf = "";
      const timer = setTimeout(() => {
        proc.kill("SIGKILL");
        reject(new Error(`eddy serve did not print its listening line within ${START_TIMEOUT_MS} ms\n` +
          `command: ${cmd.join(" ")}\nstdout: ${buf}\nstderr:\n${this.stderr()}`));
      }, START_TIMEOUT_MS);
      const onData = (s) => {
        buf += s;
        this._stdout += s;
        for (const line of buf.split("\n")) {
          const m = LISTEN_RE.exec(line.trim());
          if (m) {
            clearTimeout(timer);
            proc.stdout.off("data", onData);
            proc.stdout.on("data", (more) => { this._stdout = (this._stdout + more).slice(-64_000); });
            resolve(m[1]);
            return;
          }
        }
      };
      proc.stdout.on("data", onData);
      proc.on("error", (err) => { clearTimeout(timer); reject(err); });
      proc.on("exit", (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`eddy serve exited (code ${code}, signal ${signal}) before listening\n` +
          `command: ${cmd.join(" ")}\nstdout: ${buf}\nstderr:\n${this.stderr()}`));
      });
    });
    return this;
  }

  alive() {
    return this.proc !== null && this.exit === null;
  }

  stderr() {
    return this._stderr || "<no stderr>";
  }

  /** Sends SIGTERM, waits for the exit and returns {code, signal}. */
  async stop() {
    if (!this.proc) return { code: 0, signal: null };
    if (this.exit === null) {
      this.proc.kill("SIGTERM");
      const timedOut = Symbol("timeout");
      const abort = new AbortController();
      const r = await Promise.race([
        this.exited,
        sleep(STOP_TIMEOUT_MS, timedOut, { signal: abort.signal }).catch(() => null),
      ]);
      abort.abort(); // don't keep the event loop alive for the rest of the timeout
      if (r === timedOut) {
        this.proc.kill("SIGKILL");
        await this.exited;
        throw new Error(`eddy serve did not exit within ${STOP_TIMEOUT_MS} ms of SIGTERM\nstderr:\n${this.stderr()}`);
      }
    }
    return this.exit;
  }

  cleanup() {
    if (this.alive()) this.proc.kill("SIGKILL");
    rmSync(this.dir, { recursive: true, force: true });
  }

  clientConfig(extra = {}) {
    return {
      endpoint: this.url,
      region: REGION,
      credentials: CREDENTIALS,
      maxAttempts: 1,
      ...extra,
    };
  }

  dynamodb(extra = {}) {
    return new DynamoDBClient(this.clientConfig(extra));
  }

  /** A Kinesis client with the SDK's default request handler (NodeHttp2Handler). */
  kinesis(extra = {}) {
    return new KinesisClient(this.clientConfig(extra));
  }
}

/**
 * Registers before/after hooks on the current test file: one server for the file,
 * stopped with SIGTERM afterwards (which must exit 0). Returns a getter object.
 */
export function useServer({ before, after }) {
  const ctx = { server: null, clients: [] };
  before(async () => {
    ctx.server = await new EddyServer().start();
  });
  after(async () => {
    for (const c of ctx.clients) c.destroy();
    const srv = ctx.server;
    if (!srv) return;
    try {
      const crashed = !srv.alive();
      const exit = await srv.stop();
      if (crashed || exit.code !== 0) {
        throw new Error(`eddy serve ${crashed ? "died during the tests" : "did not exit 0 on SIGTERM"}: ` +
          `exit code ${exit.code}, signal ${exit.signal}\nstderr:\n${srv.stderr()}`);
      }
    } finally {
      srv.cleanup();
    }
  });
  return {
    get server() { return ctx.server; },
    dynamodb(extra) { const c = ctx.server.dynamodb(extra); ctx.clients.push(c); return c; },
    kinesis(extra) { const c = ctx.server.kinesis(extra); ctx.clients.push(c); return c; },
    track(client) { ctx.clients.push(client); return client; },
  };
}

const RUN = randomUUID().slice(0, 6);
let counter = 0;

/** A table/stream name unique within the run: `<prefix>-<run>-<n>`. */
export function unique(prefix) {
  counter += 1;
  return `${prefix}-${RUN}-${counter}`;
}

/** Polls `fn` (may be async) until it returns a truthy value; returns that value. */
export async function waitUntil(fn, { timeoutMs = 10_000, intervalMs = 50, what = "condition" } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    last = await fn();
    if (last) return last;
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last: ${JSON.stringify(last)}`);
    }
    await sleep(intervalMs);
  }
}

export function tableArn(name) {
  return `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/${name}`;
}

export function streamArn(name) {
  return `arn:aws:kinesis:${REGION}:${ACCOUNT}:stream/${name}`;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

export function decodeUtf8(bytes) {
  return utf8.decode(bytes);
}

export function encodeUtf8(text) {
  return new TextEncoder().encode(text);
}
