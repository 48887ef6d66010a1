// undici declares types for its index only; the sidecar imports Pool's own module (build.ts says why).
declare module 'undici/lib/dispatcher/pool.js' {
  import { Pool } from 'undici'
  export default Pool
}
