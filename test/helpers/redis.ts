/** A real redis-server on a random port, without persistence; can be killed and restarted on the same port. */
import { type ChildProcess, spawn } from 'node:child_process'
import net from 'node:net'

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo
      s.close(() => resolve(port))
    })
  })
}

async function waitForPort(port: number, up: boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const open = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1')
      s.once('connect', () => (s.destroy(), resolve(true)))
      s.once('error', () => resolve(false))
    })
    if (open === up) return
    if (Date.now() > deadline) throw new Error(`redis port ${port} did not become ${up ? 'open' : 'closed'}`)
    await new Promise((r) => setTimeout(r, 25))
  }
}

export interface RedisServer {
  url: string
  port: number
  kill(): Promise<void>
  start(): Promise<void>
  close(): Promise<void>
}

export async function startRedis(): Promise<RedisServer> {
  const port = await freePort()
  let child: ChildProcess | undefined
  const start = async () => {
    child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
      stdio: 'ignore',
    })
    await waitForPort(port, true)
  }
  const kill = async () => {
    if (!child || child.exitCode !== null) return
    const exited = new Promise((r) => child!.once('exit', r))
    child.kill('SIGKILL')
    await exited
    await waitForPort(port, false)
  }
  await start()
  return { url: `redis://127.0.0.1:${port}`, port, kill, start, close: kill }
}
