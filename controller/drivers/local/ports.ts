/** Local ports: one the OS says is free now, and waiting for a port to open or close. */
import net from 'node:net'

export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer()
    s.once('error', reject)
    s.listen(0, host, () => {
      const { port } = s.address() as net.AddressInfo
      s.close(() => resolve(port))
    })
  })
}

export async function waitForPort(port: number, up: boolean, timeoutMs = 10_000, host = '127.0.0.1'): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const open = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, host)
      s.once('connect', () => (s.destroy(), resolve(true)))
      s.once('error', () => resolve(false))
    })
    if (open === up) return
    if (Date.now() > deadline) throw new Error(`port ${port} did not ${up ? 'open' : 'close'} within ${timeoutMs} ms`)
    await new Promise((r) => setTimeout(r, 25))
  }
}
