/**
 * The one faultline image's default reference, `faultline:<package version>`: what `npm run image`
 * tags (scripts/build-image.ts, as docker.io/library/faultline:<version> in the archive, which is
 * how the CRI resolves the short name), what the injector puts in pods, and what podStress runs
 * when neither the step nor FAULTLINE_IMAGE names one. One constant, so the three cannot drift.
 */
import pkg from '../../package.json' with { type: 'json' }

export const IMAGE_NAME = 'faultline'
export const DEFAULT_IMAGE = `${IMAGE_NAME}:${pkg.version}`
