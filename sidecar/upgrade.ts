/**
 * WebSocket (and any HTTP/1.1 Upgrade) pass-through: the handshake is replayed to the upstream
 * byte for byte and then the two sockets are joined, so any subprotocol works unchanged.
 */
import type { Server } from 'node:http'
import net from 'node:net'
import type { Logger } from '../src/log.ts'

export function tunnelUpgrades(server: Server, upstream: URL, log: Logger): void {
  server.on('upgrade', (req, client: net.Socket, head: Buffer) => {
    const port = Number(upstream.port || 80)
    const conn = net.connect({ host: upstream.hostname, port })
    const fail = (err: Error) => {
      log.warn({ err: { message: err.message } }, 'upgrade tunnel failed')
      if (!conn.destroyed) conn.destroy()
      if (client.writable && conn.bytesRead === 0)
        client.end('HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n')
      else client.destroy()
    }
    conn.once('error', fail)
    client.once('error', () => conn.destroy())
    conn.once('connect', () => {
      let handshake = `${req.method} ${req.url} HTTP/1.1\r\n`
      for (let i = 0; i < req.rawHeaders.length; i += 2)
        handshake += `${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}\r\n`
      conn.write(handshake + '\r\n')
      if (head.length) conn.write(head)
      conn.pipe(client)
      client.pipe(conn)
    })
    conn.once('close', () => client.destroy())
    client.once('close', () => conn.destroy())
  })
}
