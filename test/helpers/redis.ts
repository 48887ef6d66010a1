/** A real redis-server on a random port, without persistence; can be killed and restarted on the same port. */
import { type ChildProcess, spawn } from 'node:child_process'
import { freePort, waitForPort } from '../../controller/drivers/local/ports.ts'

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
    if (!child || child.exitCode !== null || child.signalCode !== null) return
    const exited = new Promise((r) => child!.once('exit', r))
    child.kill('SIGKILL')
    await exited
    await waitForPort(port, false)
  }
  await start()
  return { url: `redis://127.0.0.1:${port}`, port, kill, start, close: kill }
}
