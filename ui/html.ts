/** htm bound to Preact: tagged templates that build vnodes, so every interpolated string is text. */
import { h } from 'preact'
import htm from 'htm'

export const html = htm.bind(h)
