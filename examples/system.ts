/**
 * The demo's sample system: front -> orders -> inventory, each service its own supervised
 * process (restarted if it dies), each behind its own in-process sidecar. Services call their
 * downstream through the downstream's sidecar, so a fault on inventory is felt by orders and
 * then by the front.
 */
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { ProcessRegistry, SupervisedProcess } from '../controller/drivers/local/supervisor.ts'
import { buildSidecar, type Sidecar } from '../sidecar/build.ts'
import { silentLogger } from '../src/log.ts'
import { freePort } from '../controller/drivers/local/ports.ts'

const SERVICE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'service.ts')

export interface SampleSystem {
  /** FRONT_URL, FRONT_ADMIN, ORDERS_ADMIN, INVENTORY_ADMIN: for ${VAR} in the example experiments. */
  vars: Record<string, string>
  registry: ProcessRegistry
  close(): Promise<void>
}

export async function startSampleSystem(opts: { logDir?: string } = {}): Promise<SampleSystem> {
  const registry = new ProcessRegistry()
  const processes: SupervisedProcess[] = []
  const sidecars: Sidecar[] = []
  const vars: Record<string, string> = {}
  let downstream: string | undefined
  try {
    // Start from the bottom so each service's downstream sidecar already exists.
    for (const name of ['inventory', 'orders', 'front']) {
      const port = await freePort()
      const proc = new SupervisedProcess(
        {
          name,
          command: [process.execPath, SERVICE],
          env: {
            NAME: name,
            PORT: String(port),
            ...(downstream ? { DOWNSTREAM: downstream, TIMEOUT_MS: '1000' } : {}),
          },
          readiness: { url: `http://127.0.0.1:${port}/healthz`, timeout: 10_000 },
          restart: { policy: 'always', delay: 100 },
        },
        opts.logDir,
      )
      await proc.start()
      processes.push(proc)
      registry.register(proc)
      const sidecar = buildSidecar({
        upstream: `http://127.0.0.1:${port}`,
        listen: { host: '127.0.0.1', port: 0 },
        admin: { host: '127.0.0.1', port: 0 },
        service: name,
        logger: silentLogger(),
      })
      const { proxyUrl, adminUrl } = await sidecar.listen()
      sidecars.push(sidecar)
      vars[`${name.toUpperCase()}_URL`] = proxyUrl
      vars[`${name.toUpperCase()}_ADMIN`] = adminUrl
      downstream = proxyUrl
    }
  } catch (err) {
    await Promise.all([...sidecars.map((s) => s.close()), ...processes.map((p) => p.close())])
    throw err
  }
  return {
    vars,
    registry,
    async close() {
      await Promise.all(sidecars.map((s) => s.close()))
      await Promise.all(processes.map((p) => p.close()))
    },
  }
}
