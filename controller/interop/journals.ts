/**
 * Journals in a source format's own shape, written next to faultline's journal for a run
 * translated from that format (metadata.annotations `faultline.io/source-format`).
 */
import path from 'node:path'
import type { Logger } from '../../src/log.ts'
import { SOURCE_FORMAT } from '../../src/interop/annotations.ts'
import { type Journal, writeFileAtomic } from '../experiments/journal.ts'
import { chaosToolkitJournal } from './chaostoolkit/journal.ts'

/** Chaos Toolkit's journal, beside faultline's own `journal.json` in the run directory. */
export const CTK_JOURNAL_FILE = 'chaostoolkit-journal.json'

/** Never throws: a journal that cannot be written is logged, the run's result stands. */
export function writeSourceJournal(dir: string, journal: Journal, log: Logger): string | undefined {
  if (journal.experiment.metadata.annotations?.[SOURCE_FORMAT] !== 'chaostoolkit') return undefined
  const file = path.join(dir, CTK_JOURNAL_FILE)
  try {
    writeFileAtomic(file, JSON.stringify(chaosToolkitJournal(journal), null, 2) + '\n')
    return file
  } catch (err) {
    log.error({ err, file }, 'could not write the Chaos Toolkit journal')
    return undefined
  }
}
