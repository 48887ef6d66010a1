/**
 * nginx (Debian's package) as the non-Node reference proxy: one worker, upstream keep-alive, no
 * access log. It runs as the current user in the foreground (`daemon off`) with its config, pid
 * file, logs and temp paths in a fresh temp dir, on a free port of 127.0.0.1; nothing under
 * /etc/nginx is read or written (`-c`, `-p` and `-e` point into the temp dir). Stopping it
 * (SIGTERM to the master: fast shutdown) ends the worker too and removes the temp dir.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { freePort } from '../../controller/drivers/local/ports.ts'
import {
  commandPath,
  ensureBenchDeps,
  hasCommand,
  type Running,
  spawnPinned,
  stopProcess,
  track,
  waitForHttp,
} from '../harness.ts'

function errorLog(dir: string): string {
  try {
    return readFileSync(path.join(dir, 'error.log'), 'utf8').trim().split('\n').slice(-5).join(' | ')
  } catch (err) {
    return `(no error log: ${(err as Error).message})`
  }
}

/** Why nginx cannot run here, or undefined when it can (installing it first if missing). */
export function nginxUnavailable(): string | undefined {
  ensureBenchDeps()
  return hasCommand('nginx')
    ? undefined
    : 'nginx is not installed and scripts/install-bench-deps.sh could not install it'
}

export function nginxConfig(dir: string, upstream: URL, port: number): string {
  // As root, nginx would switch its worker to `nobody`; `user` keeps it as the current user
  // (it is ignored, with a warning, when nginx does not start as root).
  const user = process.getuid?.() === 0 ? `user ${os.userInfo().username};\n` : ''
  const temp = (name: string) => path.join(dir, name)
  return `${user}worker_processes 1;
daemon off;
pid ${temp('nginx.pid')};
error_log ${temp('error.log')} warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${temp('client_body')};
  proxy_temp_path ${temp('proxy')};
  fastcgi_temp_path ${temp('fastcgi')};
  uwsgi_temp_path ${temp('uwsgi')};
  scgi_temp_path ${temp('scgi')};
  keepalive_timeout 65s;
  keepalive_requests 1000000;
  upstream origin {
    server ${upstream.host};
    keepalive 256;
    keepalive_requests 1000000;
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://origin;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering on;
    }
  }
}
`
}

/** nginx in front of `upstream` (an http://127.0.0.1:PORT URL), on core `cpu` when given. */
export async function startNginx(upstream: string, cpu?: number): Promise<Running> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'faultline-bench-nginx-'))
  const cleanup = () => rmSync(dir, { recursive: true, force: true })
  try {
    const port = await freePort()
    const conf = path.join(dir, 'nginx.conf')
    writeFileSync(conf, nginxConfig(dir, new URL(upstream), port))
    const child = spawnPinned(commandPath('nginx'), ['-p', dir, '-e', path.join(dir, 'error.log'), '-c', conf], cpu, {
      stdio: ['ignore', 'ignore', 'inherit'],
    })
    const exited = new Promise<never>((_, reject) =>
      child.once('exit', (code) => reject(new Error(`nginx exited (${code}) before answering: ${errorLog(dir)}`))),
    )
    // The temp dir goes with the process, however it ends (also when this process exits first);
    // registered after the listener above, which reads the error log from it.
    track(child, cleanup)
    const url = `http://127.0.0.1:${port}`
    try {
      await Promise.race([waitForHttp(url + '/', 10_000), exited])
    } catch (err) {
      await stopProcess(child)
      throw err
    }
    exited.catch(() => {
      // Expected once stop() below ends it: nothing is waiting for it any more.
    })
    return {
      url,
      pid: child.pid!,
      stop: () => stopProcess(child),
    }
  } catch (err) {
    cleanup()
    throw err
  }
}
